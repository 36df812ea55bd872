import { join } from "node:path";
import {
  OrderCancelledEvent,
  OrderConfirmedEvent,
  OrderNeedsAttentionEvent,
  OrderPlacedEvent,
  OrderRejectedEvent,
  OrderShippedEvent,
} from "@agora/contracts";
import { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import { InventoryServiceService } from "@agora/contracts/agora/inventory/v1/inventory_service";
import { OrderServiceService } from "@agora/contracts/agora/order/v1/order_service";
import { PaymentServiceService } from "@agora/contracts/agora/payment/v1/payment_service";
import { ShippingServiceService } from "@agora/contracts/agora/shipping/v1/shipping_service";
import { defineService } from "@agora/service-kit";
import { checkSagaConfig, orderConfig } from "./config";
import * as schema from "./db/schema";
import { catalogProducts, inventoryStock, paymentCards, paymentService, shippingShipments } from "./downstreams";
import { orderHandlers } from "./grpc-handlers";
import { OrderChangeFeed } from "./order-changes";
import { OrderStore, sagaDueChannel } from "./order-store";
import { SagaExecutor } from "./saga/saga-executor";
import { SagaStore } from "./saga/saga-store";
import { shippingHandlers } from "./shipping-events";

/** The order service: orders and the saga that confirms them. */
export const orderService = defineService({
  name: "order",
  ports: { grpc: 50053, metrics: 9453 },
  config: orderConfig,
  database: { schema, migrationsFolder: join(__dirname, "..", "drizzle") },
  events: {
    publishes: [
      OrderPlacedEvent,
      OrderConfirmedEvent,
      OrderRejectedEvent,
      OrderCancelledEvent,
      OrderNeedsAttentionEvent,
      OrderShippedEvent,
    ],
  },
  async setup({ config, database, logger, bind, client, outbox, subscribe, registry, tracer, isServing }) {
    const saga = checkSagaConfig(config);
    const steps = {
      timeoutMs: config.SAGA_STEP_TIMEOUT_MS,
      breaker: { consecutiveFailures: 5, halfOpenAfterMs: config.SAGA_BREAKER_HALF_OPEN_MS },
    };
    const catalog = client(CatalogServiceService, config.CATALOG_ADDR, { downstream: "catalog" });
    const inventory = client(InventoryServiceService, config.INVENTORY_ADDR, {
      downstream: "inventory",
      policies: steps,
    });
    const payment = client(PaymentServiceService, config.PAYMENT_ADDR, { downstream: "payment", policies: steps });
    const shipping = client(ShippingServiceService, config.SHIPPING_ADDR, { downstream: "shipping", policies: steps });
    // PlaceOrder's TokenizeCard has a breaker of its own: authorizations failing for one order (a card
    // whose processor times out) must not stop other customers from placing orders.
    const cards = client(PaymentServiceService, config.PAYMENT_ADDR, { downstream: "payment-cards" });

    const store = new OrderStore(database.db, outbox);
    const sagas = new SagaStore(database.db, store, { leaseMs: config.SAGA_LEASE_MS, settings: saga });
    const executor = new SagaExecutor(
      {
        store: sagas,
        stock: inventoryStock(inventory),
        payments: paymentService(payment),
        shipments: shippingShipments(shipping),
        logger,
        tracer,
        registry,
        listen: (onNotify) => database.listen(sagaDueChannel, onNotify),
      },
      { concurrency: config.SAGA_CONCURRENCY, sweepIntervalMs: config.SAGA_SWEEP_INTERVAL_MS },
    );
    const feed = new OrderChangeFeed(database, logger, isServing);
    subscribe({ name: "shipping-events", handlers: shippingHandlers(store, logger) });

    const handlers = orderHandlers({
      store,
      place: {
        store,
        catalog: catalogProducts(catalog),
        cards: paymentCards(cards),
        sagaDeadlineMs: config.SAGA_DEADLINE_MS,
        sagas: executor,
      },
      cancel: { store, sagas, feed, executor, waitMs: config.CANCEL_WAIT_MS, pollMs: config.WATCH_POLL_INTERVAL_MS },
      watch: { store, feed, pollMs: config.WATCH_POLL_INTERVAL_MS },
    });
    return { grpc: [bind(OrderServiceService, handlers)], background: [feed, executor] };
  },
});

if (require.main === module) orderService.main();
