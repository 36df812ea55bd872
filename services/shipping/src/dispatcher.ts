import { type Logger, PeriodicTask } from "@agora/service-kit";
import type { ShipmentStore } from "./shipment-store";

/** Shipments dispatched per round before the dispatcher looks again at once. */
const batchSize = 50;

/**
 * The background dispatcher: hands shipments to the carrier once their dispatch time has come. Its
 * only state is the shipments table (CREATED rows with dispatch_due_at), so a shipment created just
 * before a crash is dispatched after the restart; replicas share the work (FOR UPDATE SKIP LOCKED).
 */
export function shipmentDispatcher(
  store: ShipmentStore,
  options: { intervalMs: number; logger: Logger },
): PeriodicTask {
  return new PeriodicTask({
    name: "shipment-dispatcher",
    intervalMs: options.intervalMs,
    logger: options.logger,
    run: async () => {
      const dispatched = await store.dispatchDue(batchSize);
      for (const shipment of dispatched) {
        options.logger.info(
          { shipment_id: shipment.shipmentId, order_id: shipment.orderId, tracking_number: shipment.trackingNumber },
          "shipment dispatched",
        );
      }
      return dispatched.length === batchSize;
    },
  });
}
