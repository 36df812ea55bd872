import { ShipmentCreatedEvent, ShipmentDispatchedEvent } from "@agora/contracts";
import type { ShipmentCreated, ShipmentDispatched } from "@agora/contracts/agora/shipping/v1/events";
import type { Shipment } from "@agora/contracts/agora/shipping/v1/shipment";
import { type EventHandler, on, PermanentEventError } from "@agora/service-kit";
import { eq } from "drizzle-orm";
import type { Logger } from "pino";
import { orderSagaLog, orderSagas, orders } from "./db/schema";
import type { OrderSchema, OrderStore, OrderTx } from "./order-store";

async function lockOrder(tx: OrderTx, shipment: Shipment | undefined) {
  const orderId = shipment?.orderId ?? "";
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(orderId)) {
    throw new PermanentEventError(`shipment event without a valid order id (${JSON.stringify(orderId)})`);
  }
  const [order] = await tx
    .select({ orderId: orders.orderId, status: orders.status })
    .from(orders)
    .where(eq(orders.orderId, orderId.toLowerCase()))
    .for("update");
  return order;
}

/**
 * The order service's reactions to shipping's events, each applied in the inbox transaction:
 * `shipment_dispatched` moves a CONFIRMED order to SHIPPED (with history and `agora.order.shipped`);
 * a redelivery, or an order already SHIPPED, changes nothing. `shipment_created` goes to the saga log.
 * A dispatch for an order whose cancellation is under way changes nothing either: the cancellation's
 * CancelShipment step learns of the dispatch from shipping itself and ends the order SHIPPED (or, if
 * shipping had agreed to stop the shipment first, there is no dispatch). A dispatch for an order that
 * is not CONFIRMED is logged for operators and changes nothing; one for a PENDING order is retried (it
 * cannot have been confirmed yet).
 */
export function shippingHandlers(store: OrderStore, logger: Logger): EventHandler<OrderSchema>[] {
  return [
    on<ShipmentDispatched, OrderSchema>(ShipmentDispatchedEvent, async ({ shipment }, event, tx) => {
      const order = await lockOrder(tx, shipment);
      if (!order) {
        logger.warn({ event_id: event.id, order_id: shipment?.orderId }, "shipment dispatched for an unknown order");
        return;
      }
      const detail = `shipment ${shipment?.shipmentId} dispatched${shipment?.trackingNumber ? `, tracking number ${shipment.trackingNumber}` : ""}`;
      switch (order.status) {
        case "SHIPPED":
          return;
        case "PENDING":
          throw new Error(`order ${order.orderId} is not confirmed yet; retrying the dispatch later`);
        case "CONFIRMED": {
          const [saga] = await tx
            .select({ compensation: orderSagas.compensation, step: orderSagas.step })
            .from(orderSagas)
            .where(eq(orderSagas.orderId, order.orderId));
          if (saga?.step === "CANCEL_SHIPMENT") {
            // CancelOrder came first: its saga hears of the dispatch from shipping and ends the order SHIPPED.
            await tx.insert(orderSagaLog).values({
              orderId: order.orderId,
              step: "-",
              outcome: "shipment-dispatched-during-cancel",
              detail: `${detail} while the cancellation asks shipping to stop it; the saga settles it`,
            });
            return;
          }
          if (saga?.compensation) break;
          await store.changeStatus(tx, order.orderId, { status: "SHIPPED", reason: detail });
          return;
        }
        default:
          break;
      }
      logger.warn(
        { order_id: order.orderId, status: order.status, shipment_id: shipment?.shipmentId },
        "shipment dispatched for an order that is not CONFIRMED; left as it is",
      );
      await tx.insert(orderSagaLog).values({
        orderId: order.orderId,
        step: "-",
        outcome: "shipment-dispatched-ignored",
        detail: `${detail} while the order is ${order.status}`,
      });
    }),
    on<ShipmentCreated, OrderSchema>(ShipmentCreatedEvent, async ({ shipment }, _event, tx) => {
      const order = await lockOrder(tx, shipment);
      if (!order) return;
      await tx.insert(orderSagaLog).values({
        orderId: order.orderId,
        step: "-",
        outcome: "shipment-created",
        detail: `shipment ${shipment?.shipmentId}`,
      });
    }),
  ];
}
