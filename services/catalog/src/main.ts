import { join } from "node:path";
import { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import { booleanFromEnv, defineService } from "@agora/service-kit";
import * as schema from "./db/schema";
import { demoProducts } from "./demo-catalog";
import { catalogHandlers } from "./grpc-handlers";
import { ProductStore } from "./product-store";

/** The catalog service: products and prices. */
export const catalogService = defineService({
  name: "catalog",
  ports: { grpc: 50051, metrics: 9451 },
  config: { SEED_DEMO_DATA: booleanFromEnv.default(false) },
  database: { schema, migrationsFolder: join(__dirname, "..", "drizzle") },
  async setup({ config, database, logger, bind }) {
    const store = new ProductStore(database.db);
    if (config.SEED_DEMO_DATA) {
      const added = await store.insertMissing(demoProducts);
      logger.info({ added, total: demoProducts.length }, "demo catalog seeded");
    }
    return { grpc: [bind(CatalogServiceService, catalogHandlers(store))] };
  },
});

if (require.main === module) catalogService.main();
