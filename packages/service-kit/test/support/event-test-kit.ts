import { join } from "node:path";
import { ProductCreatedEvent } from "@agora/contracts";
import { sql } from "drizzle-orm";
import pino from "pino";
import { type AgoraService, type Database, eventTablesMigrations, Outbox, openDatabase } from "../../src";

// The fixture services are plain JS on the compiled kit (so they also run as processes).
// biome-ignore lint/suspicious/noExplicitAny: untyped JS fixture
const fixtures = require("../fixtures/event-services.js") as { producer: any; consumer: any; failing: Set<string> };

export const producerService = fixtures.producer as AgoraService<unknown, Record<string, never>>;
export const consumerService = fixtures.consumer as AgoraService<unknown, Record<string, never>>;
/** Product groups whose events the consumer refuses (in-process consumers only). */
export const failingProducts = fixtures.failing;
export const eventServicesScript = join(__dirname, "../fixtures/event-services.js");

/** Opens the producer's database from the test process to write outbox rows directly. */
export async function openProducerDatabase(
  url: string,
): Promise<{ database: Database<Record<string, never>>; outbox: Outbox }> {
  const database = await openDatabase({
    url,
    schema: {},
    migrations: [
      eventTablesMigrations,
      { folder: join(__dirname, "../fixtures/migrations"), table: "__drizzle_migrations" },
    ],
    logger: pino({ level: "silent" }),
  });
  return { database, outbox: new Outbox("producer", [ProductCreatedEvent]) };
}

/** Writes product_created events, one transaction each; ids "group#n" share the aggregate "group". */
export async function writeEvents(
  database: Database<Record<string, never>>,
  outbox: Outbox,
  productIds: string[],
): Promise<void> {
  for (const productId of productIds) {
    await database.db.transaction((tx) =>
      outbox.add(
        tx,
        ProductCreatedEvent,
        {
          product: {
            productId,
            sku: "SKU",
            name: productId,
            description: "",
            category: "test",
            price: { currencyCode: "EUR", units: 1, nanos: 0 },
            imageUrl: "",
            createTime: new Date(),
            updateTime: new Date(),
          },
        },
        { aggregateId: productId.split("#")[0] ?? productId },
      ),
    );
  }
}

/** What the consumer applied: applications per product, and the versions per aggregate in arrival order. */
export async function appliedState(consumerDb: Database<Record<string, never>>): Promise<{
  applications: Map<string, number>;
  versions: Map<string, number[]>;
}> {
  const products = await consumerDb.rows<{ product_id: string; applications: number }>(
    sql`select product_id, applications from applied_products`,
  );
  const versions = await consumerDb.rows<{ aggregate_id: string; version: string }>(
    sql`select aggregate_id, version from applied_versions order by seq`,
  );
  const byAggregate = new Map<string, number[]>();
  for (const row of versions) {
    byAggregate.set(row.aggregate_id, [...(byAggregate.get(row.aggregate_id) ?? []), Number(row.version)]);
  }
  return { applications: new Map(products.map((row) => [row.product_id, row.applications])), versions: byAggregate };
}
