import { join } from "node:path";
import { IdentityServiceService } from "@agora/contracts/agora/identity/v1/identity_service";
import { NotificationServiceService } from "@agora/contracts/agora/notification/v1/notification_service";
import { defineService, grpcAddress, z } from "@agora/service-kit";
import { RecordingEmailChannel } from "./channel";
import { notificationSubscriptions } from "./consumers";
import { CachedCustomerDirectory, IdentityDirectory } from "./customer-directory";
import * as schema from "./db/schema";
import { notificationHandlers } from "./grpc-handlers";
import { NotificationStore } from "./notification-store";
import { Notifier } from "./notifier";

/** The notification service: one message per order, payment or shipment event a customer cares about. */
export const notificationService = defineService({
  name: "notification",
  ports: { grpc: 50057, metrics: 9457 },
  config: {
    IDENTITY_ADDR: grpcAddress.default("127.0.0.1:50056"),
    /** How long a customer's address is reused without asking identity again (0: always ask). */
    CUSTOMER_CACHE_TTL_MS: z.coerce.number().int().min(0).default(300_000),
  },
  database: { schema, migrationsFolder: join(__dirname, "..", "drizzle") },
  async setup({ config, database, logger, registry, bind, client, subscribe }) {
    const identity = client(IdentityServiceService, config.IDENTITY_ADDR, { downstream: "identity" });
    const fromIdentity = new IdentityDirectory(identity);
    const customers =
      config.CUSTOMER_CACHE_TTL_MS > 0
        ? new CachedCustomerDirectory(fromIdentity, { ttlMs: config.CUSTOMER_CACHE_TTL_MS, maxCustomers: 10_000 })
        : fromIdentity;
    const notifier = new Notifier(customers, new RecordingEmailChannel(), logger, registry);
    for (const subscription of notificationSubscriptions(notifier)) subscribe(subscription);
    return { grpc: [bind(NotificationServiceService, notificationHandlers(new NotificationStore(database.db)))] };
  },
});

if (require.main === module) notificationService.main();
