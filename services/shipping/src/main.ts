import { join } from "node:path";
import {
  OrderCancelledEvent,
  OrderConfirmedEvent,
  ShipmentCancelledEvent,
  ShipmentCreatedEvent,
  ShipmentDispatchedEvent,
} from "@agora/contracts";
import { ShippingServiceService } from "@agora/contracts/agora/shipping/v1/shipping_service";
import { defineService, on, z } from "@agora/service-kit";
import * as schema from "./db/schema";
import { shipmentDispatcher } from "./dispatcher";
import { shippingHandlers } from "./grpc-handlers";
import { orderToShip } from "./orders-to-ship";
import { toShipment } from "./proto-mapping";
import { ShipmentStore } from "./shipment-store";

/** The shipping service: quotes, and a shipment for every confirmed order. */
export const shippingService = defineService({
  name: "shipping",
  ports: { grpc: 50055, metrics: 9455 },
  config: {
    /** Time from creating a shipment (order confirmed) to dispatching it. */
    DISPATCH_DELAY_MS: z.coerce.number().int().min(0).default(2000),
    /** How often the dispatcher looks for shipments due. */
    DISPATCH_SWEEP_INTERVAL_MS: z.coerce.number().int().min(10).default(250),
  },
  database: { schema, migrationsFolder: join(__dirname, "..", "drizzle") },
  events: { publishes: [ShipmentCreatedEvent, ShipmentDispatchedEvent, ShipmentCancelledEvent] },
  async setup({ config, database, logger, bind, outbox, subscribe }) {
    const about = (shipment: schema.ShipmentRow) => ({
      aggregateId: shipment.shipmentId,
      occurredAt: shipment.updatedAt,
    });
    const store = new ShipmentStore(
      database.db,
      {
        created: async (tx, shipment) => {
          await outbox.add(tx, ShipmentCreatedEvent, { shipment: toShipment(shipment) }, about(shipment));
        },
        dispatched: async (tx, shipment) => {
          await outbox.add(tx, ShipmentDispatchedEvent, { shipment: toShipment(shipment) }, about(shipment));
        },
        cancelled: async (tx, shipment) => {
          await outbox.add(tx, ShipmentCancelledEvent, { shipment: toShipment(shipment) }, about(shipment));
        },
      },
      { dispatchDelayMs: config.DISPATCH_DELAY_MS },
    );

    subscribe({
      name: "order-events",
      handlers: [
        on(OrderConfirmedEvent, async ({ order }, event, tx) => {
          const { result, shipment } = await store.create(tx, orderToShip(order));
          const fields = { order_id: order?.orderId, event_id: event.id, shipment_id: shipment?.shipmentId };
          if (result === "order cancelled")
            logger.warn(fields, "order confirmed after it was cancelled: nothing to ship");
          else logger.info(fields, result === "created" ? "shipment created" : "shipment exists already");
        }),
        on(OrderCancelledEvent, async ({ order, reason }, event, tx) => {
          const orderId = order?.orderId ?? event.aggregateId;
          const { result, shipment } = await store.cancel(tx, orderId, reason || "order cancelled");
          const fields = { order_id: orderId, event_id: event.id, shipment_id: shipment?.shipmentId, result };
          if (result === "already dispatched") {
            logger.warn(
              { ...fields, tracking_number: shipment?.trackingNumber },
              "order cancelled after its shipment was dispatched: the parcel is on its way",
            );
          } else logger.info(fields, "order cancelled");
        }),
      ],
    });

    return {
      grpc: [bind(ShippingServiceService, shippingHandlers(store))],
      background: [shipmentDispatcher(store, { intervalMs: config.DISPATCH_SWEEP_INTERVAL_MS, logger })],
    };
  },
});

if (require.main === module) shippingService.main();
