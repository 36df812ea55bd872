// What one SQL statement costs a service's Node process, by how it is written: drizzle's query builder
// (SQL built on every call), a drizzle prepared query (built once), drizzle's sql template, postgres.js
// directly; awaited one by one or sent together (pipelined on one connection); and a six-statement
// transaction written both ways. CPU is this process's (process.cpuUsage), wall is per statement,
// against the local Postgres. Explains the "database client stack" share of the services' profiles
// (docs/performance.md). Records results/db-client.{json,md}.
import { createTestDatabase } from "@agora/testing";
import { eq, sql } from "drizzle-orm";
import { bigint, integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { machine, markdownTable, writeResults } from "./report";

/** A table as wide as a typical Agora aggregate row (the order service's `orders` has 14 columns). */
const orders = pgTable("bench_orders", {
  orderId: uuid("order_id").primaryKey(),
  customerId: text("customer_id").notNull(),
  idempotencyKey: text("idempotency_key").notNull(),
  status: text("status").notNull(),
  statusReason: text("status_reason").notNull().default(""),
  currency: text("currency").notNull(),
  totalNanos: bigint("total_nanos", { mode: "bigint" }).notNull(),
  shippingAddress: jsonb("shipping_address").notNull(),
  paymentMethodId: text("payment_method_id").notNull(),
  attempts: integer("attempts").notNull().default(0),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

const iterations = Number(process.env.BENCH_DB_ITERATIONS ?? 3000);
const orderId = "00000000-0000-4000-8000-000000000001";

interface Measured {
  what: string;
  statementsPerCall: number;
  wallMicros: number;
  cpuMicros: number;
}

/** Runs `call` (after a warm-up) and returns wall and CPU time per statement. */
async function measure(what: string, statementsPerCall: number, call: () => Promise<unknown>): Promise<Measured> {
  for (let i = 0; i < 300; i++) await call();
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await call();
  const cpu = process.cpuUsage(cpuBefore);
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const statements = iterations * statementsPerCall;
  const result = {
    what,
    statementsPerCall,
    wallMicros: Math.round((wallMs * 1000) / statements),
    cpuMicros: Math.round((cpu.user + cpu.system) / statements),
  };
  process.stdout.write(
    `${what.padEnd(58)} ${String(result.cpuMicros).padStart(5)} µs CPU, ${String(result.wallMicros).padStart(5)} µs wall per statement\n`,
  );
  return result;
}

async function main(): Promise<void> {
  const database = await createTestDatabase("bench_db_client");
  // One connection, as inside a transaction: what differs below is the client side only.
  const client = postgres(database.url, { max: 1, onnotice: () => {} });
  try {
    const db = drizzle(client);
    await client.unsafe(`create table bench_orders (
      order_id uuid primary key, customer_id text not null, idempotency_key text not null, status text not null,
      status_reason text not null default '', currency text not null, total_nanos bigint not null,
      shipping_address jsonb not null, payment_method_id text not null, attempts integer not null default 0,
      created_at timestamptz not null default now(), updated_at timestamptz not null default now())`);
    await db.insert(orders).values({
      orderId,
      customerId: "customer",
      idempotencyKey: "key",
      status: "PENDING",
      currency: "EUR",
      totalNanos: 649_000_000_000n,
      shippingAddress: { city: "Berlin" },
      paymentMethodId: "pm",
    });
    const prepared = db
      .select()
      .from(orders)
      .where(eq(orders.orderId, sql.placeholder("id")))
      .prepare("bench_order_by_id");
    const update = () =>
      db
        .update(orders)
        .set({ attempts: sql`${orders.attempts} + 1`, updatedAt: new Date() })
        .where(eq(orders.orderId, orderId));
    const select = () => db.select().from(orders).where(eq(orders.orderId, orderId));

    const results: Measured[] = [];
    results.push(await measure("drizzle query builder: select a row by id", 1, select));
    results.push(
      await measure("drizzle prepared query (built once): same select", 1, () => prepared.execute({ id: orderId })),
    );
    results.push(
      await measure("drizzle sql template: same select", 1, () =>
        db.execute(sql`select * from bench_orders where order_id = ${orderId}`),
      ),
    );
    results.push(
      await measure(
        "postgres.js: same select",
        1,
        () => client`select * from bench_orders where order_id = ${orderId}`,
      ),
    );
    results.push(await measure("drizzle query builder: update a row", 1, update));
    results.push(
      await measure("postgres.js: 10 selects sent together (pipelined)", 10, () =>
        Promise.all(Array.from({ length: 10 }, () => client`select * from bench_orders where order_id = ${orderId}`)),
      ),
    );
    // Three selects and three updates, as a saga transition reads and writes.
    const txStatement = (tx: Parameters<Parameters<typeof db.transaction>[0]>[0], index: number) =>
      index % 2 === 0
        ? tx.select().from(orders).where(eq(orders.orderId, orderId))
        : tx.update(orders).set({ updatedAt: new Date() }).where(eq(orders.orderId, orderId));
    results.push(
      await measure("transaction of 6 builder statements, awaited one by one", 8, () =>
        db.transaction(async (tx) => {
          for (let index = 0; index < 6; index++) await txStatement(tx, index);
        }),
      ),
    );
    results.push(
      await measure("transaction of 6 builder statements, sent together", 8, () =>
        db.transaction(async (tx) => {
          await Promise.all(Array.from({ length: 6 }, (_, index) => txStatement(tx, index)));
        }),
      ),
    );

    const markdown = `# Database client: what one statement costs a service

One Node process and the local Postgres on one connection; ${iterations} calls per row after a warm-up.
CPU is the Node process's own time per statement (process.cpuUsage), not Postgres's; a transaction
counts its \`begin\` and \`commit\` (8 statements for 6). Machine: ${Object.values(machine()).join(", ")}.
Run: \`npm run bench:db -w @agora/bench\` (${new Date().toISOString()}).

${markdownTable(
  ["statement", "CPU µs", "wall µs"],
  results.map((result) => [result.what, result.cpuMicros, result.wallMicros]),
)}
`;
    const path = writeResults("db-client", { machine: machine(), iterations, results }, markdown);
    process.stdout.write(`results in ${path}\n`);
  } finally {
    await client.end({ timeout: 2 });
    await database.drop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
