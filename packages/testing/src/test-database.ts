import { createHash, randomBytes } from "node:crypto";
import { hostname } from "node:os";
import postgres from "postgres";
import { isDockerAvailable } from "./docker";

/** A database of its own for one test file, dropped by {@link TestDatabase.drop}. */
export interface TestDatabase {
  /** postgres:// URL of the new, empty database. */
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/** Where the test Postgres server is: TEST_DATABASE_URL, else the local server Agora's machines run. */
export const defaultTestServerUrl = "postgres://postgres@127.0.0.1:5432/postgres";

async function reachable(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

let containerUrl: Promise<string> | undefined;

async function serverUrl(): Promise<string> {
  const configured = process.env.TEST_DATABASE_URL;
  if (configured) {
    if (!(await reachable(configured))) {
      throw new Error(`TEST_DATABASE_URL=${configured} does not answer; start that Postgres or unset the variable`);
    }
    return configured;
  }
  if (await reachable(defaultTestServerUrl)) return defaultTestServerUrl;
  if (await isDockerAvailable()) {
    containerUrl ??= (async () => {
      const { GenericContainer, Wait } = await import("testcontainers");
      const container = await new GenericContainer("postgres:17-alpine")
        .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: "trust" })
        .withExposedPorts(5432)
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
        .start();
      return `postgres://postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
    })();
    return containerUrl;
  }
  throw new Error(
    "No Postgres for the tests: set TEST_DATABASE_URL to a server where the user may CREATE DATABASE, " +
      `or run one at ${defaultTestServerUrl} (Debian: apt-get install postgresql), or make a Docker engine reachable.`,
  );
}

/** How old a harness database may get before any sweep drops it, whoever made it. */
export const testDatabaseMaxAgeMs = 24 * 3_600_000;

/** This machine's tag in database names: six hex digits of its host name's hash. */
const hostTag = createHash("sha1").update(hostname()).digest("hex").slice(0, 6);

/** Who created a harness database and when, as its name tells. */
export interface TestDatabaseOrigin {
  label: string;
  host: string;
  pid: number;
  createdAt: Date;
}

/**
 * The name of a new test database: `agora_<label>_<host>_<pid>_<created>_<random>` (pid and
 * creation time in seconds in base 36), so a later sweep can tell whose it is and how old. At most
 * 57 characters (Postgres allows 63).
 */
export function testDatabaseName(label: string, origin: Omit<TestDatabaseOrigin, "label"> = currentOrigin()): string {
  const cleanLabel = label
    .replace(/[^a-z0-9]/gi, "_")
    .toLowerCase()
    .slice(0, 24);
  const created = Math.floor(origin.createdAt.getTime() / 1000).toString(36);
  return `agora_${cleanLabel}_${origin.host}_${origin.pid.toString(36)}_${created}_${randomBytes(3).toString("hex")}`;
}

const namePattern = /^agora_(.+)_([0-9a-f]{6})_([0-9a-z]{1,7})_([0-9a-z]{1,8})_[0-9a-f]{6}$/;

/** Who made a database named by {@link testDatabaseName}; undefined for any other name. */
export function parseTestDatabaseName(name: string): TestDatabaseOrigin | undefined {
  const match = namePattern.exec(name);
  if (!match) return undefined;
  const [, label = "", host = "", pid = "", created = ""] = match;
  return { label, host, pid: Number.parseInt(pid, 36), createdAt: new Date(Number.parseInt(created, 36) * 1000) };
}

function currentOrigin(): Omit<TestDatabaseOrigin, "label"> {
  return { host: hostTag, pid: process.pid, createdAt: new Date() };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Drops the databases the harness created that their test file left behind (a crashed or killed
 * test never calls drop()): those made on this machine by a process that is gone, and any older
 * than {@link testDatabaseMaxAgeMs}. Names not made by {@link testDatabaseName} are never touched.
 * Returns the names dropped. createTestDatabase runs it once per process.
 */
export async function sweepLeakedTestDatabases(options: { serverUrl?: string; now?: Date } = {}): Promise<string[]> {
  const server = options.serverUrl ?? (await serverUrl());
  const now = (options.now ?? new Date()).getTime();
  const admin = postgres(server, { max: 1, onnotice: () => {} });
  const dropped: string[] = [];
  try {
    const databases = await admin<
      { name: string }[]
    >`select datname as name from pg_database where datname like 'agora%'`;
    for (const { name } of databases) {
      const origin = parseTestDatabaseName(name);
      if (!origin) continue;
      const leaked =
        now - origin.createdAt.getTime() > testDatabaseMaxAgeMs ||
        (origin.host === hostTag && !processAlive(origin.pid));
      if (!leaked) continue;
      try {
        await admin.unsafe(`drop database if exists "${name}" with (force)`);
        dropped.push(name);
      } catch {
        // Another sweep got there first, or it is being dropped: not ours to worry about.
      }
    }
  } finally {
    await admin.end({ timeout: 2 });
  }
  return dropped;
}

let sweep: Promise<unknown> | undefined;

/**
 * Creates an empty database on the test server (TEST_DATABASE_URL, the local server, or a
 * testcontainers Postgres when a Docker engine is reachable), named after the test file, this
 * machine, this process and the time (see {@link testDatabaseName}). The first call in a process
 * also sweeps databases that earlier test runs leaked ({@link sweepLeakedTestDatabases}).
 */
export async function createTestDatabase(label = "test"): Promise<TestDatabase> {
  const server = await serverUrl();
  sweep ??= sweepLeakedTestDatabases({ serverUrl: server }).catch(() => []);
  await sweep;
  const name = testDatabaseName(label);
  const admin = postgres(server, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end({ timeout: 2 });
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const cleanup = postgres(server, { max: 1, onnotice: () => {} });
      try {
        await cleanup.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await cleanup.end({ timeout: 2 });
      }
    },
  };
}
