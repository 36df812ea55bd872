import { createLogger, Outbox, openDatabase } from "@agora/service-kit";
import * as schema from "../db/schema";
import { OrderStore } from "../order-store";
import { validateOrderId } from "../order-validation";
import { SagaStore } from "../saga/saga-store";

const usage = `usage: DATABASE_URL=postgres://… node services/order/dist/tools/resume-saga.js <command>

  list                 the orders in NEEDS_ATTENTION: the compensation step that kept failing and why
  resume <order-id>…   runs their compensation again from attempt 0 (once the cause is fixed)
  resume --all         resumes every parked saga

A running order service picks a resumed saga up at once (NOTIFY) or at its next sweep; the order
then ends CANCELLED or REJECTED as its compensation intended, or is parked again if it still fails.`;

/**
 * The operator's tool for NEEDS_ATTENTION orders: lists parked sagas and resumes them. Returns the
 * exit code; output goes to `write`.
 */
export async function runResumeCommand(
  args: readonly string[],
  sagas: Pick<SagaStore, "parked" | "resume">,
  write: (line: string) => void,
): Promise<number> {
  const [command, ...rest] = args;
  if (command === "list") {
    const parked = await sagas.parked();
    if (parked.length === 0) write("no order needs attention");
    for (const saga of parked) {
      write(
        `${saga.orderId}  ${saga.step} failed ${saga.attempts}× (compensating towards ${saga.compensation ?? "?"}) ` +
          `since ${saga.updatedAt.toISOString()}: ${saga.lastError}`,
      );
    }
    return 0;
  }
  if (command === "resume" && rest.length > 0) {
    const ids = rest[0] === "--all" ? (await sagas.parked()).map((saga) => saga.orderId) : rest;
    let failures = 0;
    for (const raw of ids) {
      let orderId: string;
      try {
        orderId = validateOrderId("order-id", raw);
      } catch (error) {
        write(`${raw}: ${(error as Error).message}`);
        failures++;
        continue;
      }
      if (await sagas.resume(orderId, "resumed by an operator (resume-saga)")) write(`${orderId}: resumed`);
      else {
        write(`${orderId}: not parked (no such order, or it does not need attention)`);
        failures++;
      }
    }
    return failures === 0 ? 0 : 1;
  }
  write(usage);
  return 2;
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    process.stderr.write(`DATABASE_URL is required\n\n${usage}\n`);
    process.exit(2);
  }
  const logger = createLogger({ service: "order-resume-saga", version: "dev", level: "warn", format: "json" });
  // No migrations: the tool works on the database the running service migrated.
  const database = await openDatabase({ url, schema, migrations: [], logger, poolSize: 1 });
  try {
    const orders = new OrderStore(database.db, new Outbox("order", []));
    const sagas = new SagaStore(database.db, orders, {
      leaseMs: 1,
      settings: { retryInitialMs: 1, retryMaxMs: 1, maxCompensationAttempts: 1 },
    });
    process.exitCode = await runResumeCommand(process.argv.slice(2), sagas, (line) =>
      process.stdout.write(`${line}\n`),
    );
  } finally {
    await database.close();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`resume-saga: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
