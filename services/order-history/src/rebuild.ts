import { join } from "node:path";
import {
  ConfigError,
  createLogger,
  EventNaming,
  eventTablesMigrations,
  loadConfig,
  NatsLink,
  openDatabase,
} from "@agora/service-kit";
import * as schema from "./db/schema";
import { rebuildViews } from "./replay";
import { ViewStore } from "./view-store";

/**
 * `node dist/rebuild.js` (or `npm run rebuild -w @agora/order-history`): replays the order, payment
 * and shipping streams from the beginning into a fresh view table and swaps it in, with the same
 * configuration as the service (DATABASE_URL or PGLITE_DIR, NATS_URL, NATS_SUBJECT_PREFIX,
 * LOG_LEVEL). Safe while the service runs on Postgres; with the embedded PGlite stop the service
 * first (one process per data folder). Prints the result as one JSON line; exits 1 on failure.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env, { grpcPort: 50058, metricsPort: 9458 }, {});
  if (!config.NATS_URL) throw new ConfigError(["NATS_URL: is required: the rebuild reads the event streams"]);
  if (!config.DATABASE_URL && !config.PGLITE_DIR) {
    throw new ConfigError(["DATABASE_URL: set it (or PGLITE_DIR): an in-memory database would be rebuilt for nothing"]);
  }
  const logger = createLogger({
    service: "order-history-rebuild",
    version: config.SERVICE_VERSION,
    level: config.LOG_LEVEL,
    format: config.LOG_FORMAT,
  });
  const database = await openDatabase({
    url: config.DATABASE_URL,
    pgliteDir: config.PGLITE_DIR,
    schema,
    migrations: [eventTablesMigrations, { folder: join(__dirname, "..", "drizzle"), table: "__drizzle_migrations" }],
    logger,
    applicationName: "order-history-rebuild",
  });
  const nats = new NatsLink(config.NATS_URL, "order-history-rebuild", logger);
  try {
    const result = await rebuildViews({
      database,
      store: new ViewStore(database.db),
      nats,
      naming: new EventNaming(config.NATS_SUBJECT_PREFIX),
      logger,
    });
    process.stdout.write(`${JSON.stringify({ rebuilt: true, ...result })}\n`);
  } finally {
    await nats.close();
    await database.close();
    logger.flush();
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(
        `order-history rebuild failed: ${error instanceof ConfigError ? error.message : error instanceof Error ? error.stack : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
