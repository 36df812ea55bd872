import { join } from "node:path";
import { PriceChangedEvent, ProductCreatedEvent } from "@agora/contracts";
import { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import { booleanFromEnv, defineService } from "@agora/service-kit";
import * as schema from "./db/schema";
import { demoProducts } from "./demo-catalog";
import { catalogHandlers } from "./grpc-handlers";
import { ProductStore } from "./product-store";
import { toProduct } from "./products";

/** The catalog service: products and prices. */
export const catalogService = defineService({
  name: "catalog",
  ports: { grpc: 50051, metrics: 9451 },
  config: { SEED_DEMO_DATA: booleanFromEnv.default(false) },
  database: { schema, migrationsFolder: join(__dirname, "..", "drizzle") },
  events: { publishes: [ProductCreatedEvent, PriceChangedEvent] },
  async setup({ config, database, logger, bind, outbox }) {
    const store = new ProductStore(database.db, {
      created: async (tx, row) => {
        await outbox.add(tx, ProductCreatedEvent, { product: toProduct(row) }, { aggregateId: row.productId });
      },
      priceChanged: async (tx, before, after) => {
        const { price: oldPrice } = toProduct(before);
        const { price: newPrice } = toProduct(after);
        await outbox.add(
          tx,
          PriceChangedEvent,
          { productId: after.productId, sku: after.sku, oldPrice, newPrice },
          { aggregateId: after.productId, occurredAt: after.updatedAt },
        );
      },
    });
    if (config.SEED_DEMO_DATA) {
      const added = await store.insertMissing(demoProducts);
      logger.info({ added, total: demoProducts.length }, "demo catalog seeded");
    }
    return { grpc: [bind(CatalogServiceService, catalogHandlers(store))] };
  },
});

if (require.main === module) catalogService.main();
