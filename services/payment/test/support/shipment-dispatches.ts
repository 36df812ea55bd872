import { randomUUID } from "node:crypto";
import { ShipmentStatus } from "@agora/contracts/agora/shipping/v1/shipment";

/** The payload of an `agora.shipping.shipment_dispatched` event for an order, as shipping sends it. */
export function dispatchedShipment(orderId: string) {
  return {
    shipment: {
      shipmentId: randomUUID(),
      orderId,
      customerId: "customer-1",
      status: ShipmentStatus.SHIPMENT_STATUS_DISPATCHED,
      items: [{ sku: "AG-KIT-001", quantity: 1 }],
      trackingNumber: "AG123456785DE",
    },
  };
}

/** How many shipment_dispatched events the payment service on `metricsPort` finished with this outcome. */
export async function consumedDispatches(metricsPort: number, outcome: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const pattern = new RegExp(
    `agora_events_consumed_total\\{[^}]*event_type="agora.shipping.shipment_dispatched"[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`,
  );
  return Number(pattern.exec(text)?.[1] ?? 0);
}
