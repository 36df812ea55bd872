import { join } from "node:path";
import { OrderHistoryServiceService } from "@agora/contracts/agora/orderhistory/v1/order_history_service";
import { defineService } from "@agora/service-kit";
import { viewSubscriptions } from "./consumers";
import * as schema from "./db/schema";
import { orderHistoryHandlers } from "./grpc-handlers";
import { ViewStore } from "./view-store";

/** The order-history service: the CQRS read side of orders, built only from events. */
export const orderHistoryService = defineService({
  name: "order-history",
  ports: { grpc: 50058, metrics: 9458 },
  database: { schema, migrationsFolder: join(__dirname, "..", "drizzle") },
  async setup({ database, bind, subscribe }) {
    const store = new ViewStore(database.db);
    for (const subscription of viewSubscriptions(store)) subscribe(subscription);
    return { grpc: [bind(OrderHistoryServiceService, orderHistoryHandlers(store))] };
  },
});

if (require.main === module) orderHistoryService.main();
