import { join } from "node:path";
import { ProductCreatedEvent, StockDepletedEvent, StockReleasedEvent, StockReservedEvent } from "@agora/contracts";
import { InventoryServiceService } from "@agora/contracts/agora/inventory/v1/inventory_service";
import {
  booleanFromEnv,
  defineService,
  InvalidArgumentError,
  on,
  PermanentEventError,
  validateSku,
  z,
} from "@agora/service-kit";
import * as schema from "./db/schema";
import { inventoryHandlers } from "./grpc-handlers";
import { toReservation, toStockLevel } from "./proto-mapping";
import { reservationExpiry } from "./reservation-expiry";
import { StockStore } from "./stock-store";

/** The inventory service: stock levels and reservations. */
export const inventoryService = defineService({
  name: "inventory",
  ports: { grpc: 50052, metrics: 9452 },
  config: {
    /** How long an uncommitted reservation holds stock. */
    RESERVATION_TTL_MS: z.coerce.number().int().positive().default(900_000),
    /** How often the sweeper looks for expired reservations. */
    RESERVATION_SWEEP_INTERVAL_MS: z.coerce.number().int().min(10).default(1000),
    /** Give products created in the catalog demo stock instead of none. */
    SEED_DEMO_DATA: booleanFromEnv.default(false),
    /** Units each new product gets when SEED_DEMO_DATA is on. */
    DEMO_INITIAL_STOCK: z.coerce.number().int().min(0).max(1_000_000).default(500),
  },
  database: { schema, migrationsFolder: join(__dirname, "..", "drizzle") },
  events: { publishes: [StockReservedEvent, StockReleasedEvent, StockDepletedEvent] },
  async setup({ config, database, logger, bind, outbox, subscribe }) {
    const store = new StockStore(
      database.db,
      {
        reserved: async (tx, reservation) => {
          await outbox.add(
            tx,
            StockReservedEvent,
            { reservation: toReservation(reservation) },
            { aggregateId: reservation.reservationId, occurredAt: reservation.updatedAt },
          );
        },
        released: async (tx, reservation, reason) => {
          await outbox.add(
            tx,
            StockReleasedEvent,
            { reservation: toReservation(reservation), reason },
            { aggregateId: reservation.reservationId, occurredAt: reservation.updatedAt },
          );
        },
        depleted: async (tx, level) => {
          await outbox.add(tx, StockDepletedEvent, { level: toStockLevel(level) }, { aggregateId: level.sku });
        },
      },
      { reservationTtlMs: config.RESERVATION_TTL_MS },
    );

    const initialStock = config.SEED_DEMO_DATA ? config.DEMO_INITIAL_STOCK : 0;
    subscribe({
      name: "product-created",
      handlers: [
        on(ProductCreatedEvent, async ({ product }, event, tx) => {
          let sku: string;
          try {
            sku = validateSku("product.sku", product?.sku);
          } catch (error) {
            if (error instanceof InvalidArgumentError)
              throw new PermanentEventError(`event ${event.id}: ${error.message}`);
            throw error;
          }
          const created = await store.addStockEntry(tx, sku, initialStock, "initial demo stock (SEED_DEMO_DATA)");
          logger.info(
            { sku, product_id: product?.productId, on_hand: initialStock, created },
            "stock entry for new product",
          );
        }),
      ],
    });

    return {
      grpc: [bind(InventoryServiceService, inventoryHandlers(store))],
      background: [reservationExpiry(store, { intervalMs: config.RESERVATION_SWEEP_INTERVAL_MS, logger })],
    };
  },
});

if (require.main === module) inventoryService.main();
