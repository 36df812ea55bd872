import type { PGlite } from "@electric-sql/pglite";
import { type ExtractTablesWithRelations, type SQL, sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import type { Logger } from "pino";
import postgres from "postgres";

/** A drizzle database over either driver; services write queries against this type only. */
export type Db<S extends Record<string, unknown> = Record<string, never>> = PgDatabase<PgQueryResultHKT, S>;
/** A transaction of {@link Db}. */
export type Tx<S extends Record<string, unknown> = Record<string, never>> = PgTransaction<
  PgQueryResultHKT,
  S,
  ExtractTablesWithRelations<S>
>;

/** A folder of drizzle-kit migrations and the table that records which ran. */
export interface MigrationSet {
  folder: string;
  /** Name of the bookkeeping table; sets sharing a database need different tables. */
  table: string;
}

export interface DatabaseOptions<S extends Record<string, unknown>> {
  /** postgres:// URL; when absent, an embedded PGlite is used. */
  url?: string;
  /** Data folder for the embedded PGlite; in memory when absent. */
  pgliteDir?: string;
  schema: S;
  /** Applied in order at start, under a lock so replicas starting together take turns. */
  migrations: readonly MigrationSet[];
  logger: Logger;
  /**
   * Connections in the pool for queries (postgres only). Default 10. LISTEN and advisory locks
   * ({@link Database.tryLock}) use connections of their own on top.
   */
  poolSize?: number;
  /**
   * Run queries with parameters as named prepared statements (postgres only; default true). Off for
   * a transaction-mode pooler without prepared-statement support (PgBouncer before 1.21).
   */
  preparedStatements?: boolean;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
}

/** An open database: drizzle plus what drizzle does not abstract over the two drivers. */
export interface Database<S extends Record<string, unknown>> {
  readonly db: Db<S>;
  readonly kind: "postgres" | "pglite";
  /** Runs raw SQL and returns its rows, whichever the driver. */
  rows<T extends Record<string, unknown>>(query: SQL): Promise<T[]>;
  /** Calls `onNotify` for every NOTIFY on `channel` until the returned function is called. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * Tries to take a session-level advisory lock on a connection of its own (outside the pool, kept
   * for further attempts); undefined when another session holds it. The lock lasts until released or until that connection dies. (With the embedded
   * PGlite there is one session per process, so it only excludes other processes' databases — none.)
   */
  tryLock(key: number): Promise<SessionLock | undefined>;
  close(): Promise<void>;
}

/** An advisory lock held by a session of its own. */
export interface SessionLock {
  /** True while this session still holds the lock (false once its connection died). */
  stillHeld(): Promise<boolean>;
  release(): Promise<void>;
}

/** Lock id for migrations: the same in every replica, so they migrate one after another. */
const MIGRATION_LOCK_ID = 7_482_001;

/**
 * The rows of a `db.execute(sql…)` / `tx.execute(sql…)` result, whichever the driver: postgres.js
 * answers with the rows array itself, PGlite with `{ rows }`.
 */
export function resultRows<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}

/** What the kit knows about a transaction opened with `db.transaction` of a kit {@link Database}. */
interface TransactionScope {
  readonly hooks: Array<() => void>;
  // biome-ignore lint/suspicious/noExplicitAny: any service schema
  readonly db: Db<any>;
}

const transactionScopes = new WeakMap<object, TransactionScope>();

/**
 * Runs `hook` once the transaction `tx` has committed (never when it rolls back). Returns false when
 * `tx` is not the outermost transaction of a kit {@link Database} (a savepoint, or another drizzle
 * instance): the caller then has to do its work inside the transaction instead.
 */
// biome-ignore lint/suspicious/noExplicitAny: any service schema
export function afterCommit(tx: Tx<any>, hook: () => void): boolean {
  const scope = transactionScopes.get(tx);
  if (!scope) return false;
  scope.hooks.push(hook);
  return true;
}

/** The database a kit transaction belongs to (for work after its commit), if `tx` is one. */
// biome-ignore lint/suspicious/noExplicitAny: any service schema
export function databaseOf(tx: Tx<any>): Db<any> | undefined {
  return transactionScopes.get(tx)?.db;
}

/**
 * NOTIFY `channel` with `payload` once `tx` has committed, from outside it (never when it rolls back).
 * A NOTIFY inside a transaction holds Postgres's global notify lock from before its commit until after
 * it, so transactions that notify commit one at a time (see {@link Outbox}'s wake-ups). Inside a
 * savepoint or another drizzle instance's transaction, where the commit cannot be followed, it
 * notifies inside `tx` instead. A NOTIFY lost to a crash right after the commit costs latency only:
 * Agora's listeners also poll.
 */
// biome-ignore lint/suspicious/noExplicitAny: any service schema
export async function notifyAfterCommit(tx: Tx<any>, channel: string, payload = ""): Promise<void> {
  const db = databaseOf(tx);
  if (!db) {
    await tx.execute(sql`select pg_notify(${channel}, ${payload})`);
    return;
  }
  afterCommit(tx, () => {
    db.execute(sql`select pg_notify(${channel}, ${payload})`).catch(() => undefined);
  });
}

/** Makes `db.transaction` record its transactions, so {@link afterCommit} can find them. */
function withCommitHooks<S extends Record<string, unknown>>(db: Db<S>): Db<S> {
  const transaction = db.transaction.bind(db);
  const wrapped: Db<S>["transaction"] = async (body, config) => {
    const hooks: Array<() => void> = [];
    const result = await transaction((tx) => {
      transactionScopes.set(tx, { hooks, db });
      return body(tx);
    }, config);
    for (const hook of hooks) {
      try {
        hook();
      } catch {
        // A hook's failure is its own business; the transaction has committed.
      }
    }
    return result;
  };
  db.transaction = wrapped;
  return db;
}

/**
 * Opens the service's database and applies its migrations: postgres.js when a URL is configured,
 * otherwise an embedded PGlite (in memory, or in `pgliteDir` to keep data across restarts).
 */
export async function openDatabase<S extends Record<string, unknown>>(
  options: DatabaseOptions<S>,
): Promise<Database<S>> {
  return options.url ? openPostgres(options.url, options) : openPglite(options);
}

async function openPostgres<S extends Record<string, unknown>>(
  url: string,
  options: DatabaseOptions<S>,
): Promise<Database<S>> {
  const connection = {
    connect_timeout: 10,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? "agora" },
  } as const;
  // Migrations run on a single dedicated connection that holds a session advisory lock meanwhile.
  const migrator = postgres(url, { ...connection, max: 1 });
  try {
    await migrator`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    try {
      const migrationDb = drizzlePostgres(migrator);
      for (const set of options.migrations) {
        await migratePostgres(migrationDb, { migrationsFolder: set.folder, migrationsTable: set.table });
      }
    } finally {
      await migrator`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
    }
  } catch (error) {
    throw new Error(`database ${redact(url)}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  } finally {
    await migrator.end({ timeout: 5 });
  }
  options.logger.info(
    { database: redact(url), migrations: options.migrations.map((set) => set.table) },
    "database ready",
  );

  const client = postgres(url, {
    ...connection,
    // Custom plans as with unnamed statements: prepared statements save the parse and a round trip,
    // never a plan choice (a generic plan cannot use partial indexes whose predicate names a parameter).
    connection: { ...connection.connection, plan_cache_mode: "force_custom_plan" },
    max: options.poolSize ?? 10,
    idle_timeout: 30,
  });
  /** Connections holding (or trying to take) advisory locks, one per lock key. */
  const lockSessions = new Map<number, postgres.Sql>();
  const db = withCommitHooks(
    drizzlePostgres(options.preparedStatements === false ? client : preparing(client), {
      schema: options.schema,
    }) as unknown as Db<S>,
  );
  return {
    db,
    kind: "postgres",
    rows: async <T>(query: SQL) => resultRows<T>(await db.execute(query)),
    listen: async (channel, onNotify) => {
      const subscription = await client.listen(channel, (payload) => onNotify(payload));
      return () => subscription.unlisten();
    },
    tryLock: async (key) => {
      // On a connection of its own, outside the pool: the pool's DATABASE_POOL_SIZE connections all
      // stay for queries (a pool of one would otherwise be held by the lock, and nothing else runs).
      // Kept open between attempts (a follower retries every few seconds), never recycled while held.
      let session = lockSessions.get(key);
      if (!session) {
        session = postgres(url, { ...connection, max: 1, idle_timeout: 0, max_lifetime: 0 });
        lockSessions.set(key, session);
      }
      const [row] = await session<{ locked: boolean }[]>`select pg_try_advisory_lock(${key}) as locked`;
      if (!row?.locked) return undefined;
      const held = session;
      return {
        stillHeld: async () => {
          try {
            const [row] = await held<{ held: boolean }[]>`
              select exists (select 1 from pg_locks where locktype = 'advisory' and objid = ${key}
                and pid = pg_backend_pid() and granted) as held`;
            return row?.held === true;
          } catch {
            return false;
          }
        },
        release: async () => {
          if (lockSessions.get(key) === held) lockSessions.delete(key);
          // Ending the session releases the lock as well, should the unlock fail.
          await held`select pg_advisory_unlock(${key})`.catch(() => undefined);
          await held.end({ timeout: 5 });
        },
      };
    },
    close: async () => {
      await Promise.all([...lockSessions.values()].map((session) => session.end({ timeout: 5 })));
      lockSessions.clear();
      await client.end({ timeout: 5 });
    },
  };
}

async function openPglite<S extends Record<string, unknown>>(options: DatabaseOptions<S>): Promise<Database<S>> {
  // Loaded only when used: a service on Postgres never pays for the embedded database's code.
  const { PGlite: EmbeddedPostgres } = require("@electric-sql/pglite") as typeof import("@electric-sql/pglite");
  const client: PGlite = await EmbeddedPostgres.create(options.pgliteDir ?? "memory://");
  const { drizzle: drizzlePglite } = require("drizzle-orm/pglite") as typeof import("drizzle-orm/pglite");
  const { migrate: migratePglite } =
    require("drizzle-orm/pglite/migrator") as typeof import("drizzle-orm/pglite/migrator");
  const db = withCommitHooks(drizzlePglite(client, { schema: options.schema }) as unknown as Db<S>);
  for (const set of options.migrations) {
    await migratePglite(db as unknown as Parameters<typeof migratePglite>[0], {
      migrationsFolder: set.folder,
      migrationsTable: set.table,
    });
  }
  options.logger.info(
    { database: options.pgliteDir ? `pglite:${options.pgliteDir}` : "pglite (in memory)" },
    "embedded database ready",
  );
  return {
    db,
    kind: "pglite",
    rows: async <T>(query: SQL) => resultRows<T>(await db.execute(query)),
    listen: async (channel, onNotify) => client.listen(channel, onNotify),
    tryLock: async (key) => {
      const { rows } = await client.query<{ locked: boolean }>("select pg_try_advisory_lock($1) as locked", [key]);
      if (!rows[0]?.locked) return undefined;
      return {
        stillHeld: async () => !client.closed,
        release: async () => {
          if (!client.closed) await client.query("select pg_advisory_unlock($1)", [key]);
        },
      };
    },
    close: () => client.close(),
  };
}

/**
 * The client as drizzle should see it: every query with parameters runs as a named prepared statement.
 * drizzle asks postgres.js for unnamed statements unless a query is `.prepare()`d, and postgres.js
 * then needs two round trips per query (Parse/Describe to learn the parameter types, then
 * Bind/Execute), cannot pipeline, and Postgres parses the text every time. Prepared (postgres.js keeps
 * them per connection, keyed by text and types) a query is one round trip with one socket write, and
 * queries sent together (Promise.all in a transaction) are pipelined. Statements without parameters
 * (DDL from tools, `select 1`) stay unnamed. Connections, and their statements, are recycled by
 * postgres.js's max_lifetime (30–60 min), which bounds the cache when queries vary in shape (`in (…)`).
 */
export function preparing(sql: postgres.Sql): postgres.Sql {
  return new Proxy(sql, {
    get(target, property, receiver) {
      if (property === "unsafe") {
        return (query: string, parameters?: unknown[], options?: { prepare?: boolean }) =>
          target.unsafe(query, parameters as postgres.ParameterOrJSON<never>[], {
            ...options,
            prepare: options?.prepare === true || (parameters?.length ?? 0) > 0,
          });
      }
      if (property === "begin" || property === "savepoint") {
        const original = Reflect.get(target, property, receiver) as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          const last = args.length - 1;
          const body = args[last] as (tx: postgres.Sql) => unknown;
          args[last] = (tx: postgres.Sql) => body(preparing(tx));
          return original.apply(target, args);
        };
      }
      return Reflect.get(target, property, receiver);
    },
  });
}

/** The URL without its password, for logs and errors. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable database URL)";
  }
}
