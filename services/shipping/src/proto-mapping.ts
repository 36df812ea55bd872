import { type Shipment, ShipmentStatus } from "@agora/contracts/agora/shipping/v1/shipment";
import { money } from "@agora/service-kit";
import type { ShipmentRow, ShipmentStatusName } from "./db/schema";
import type { ShippingQuote } from "./shipping-rates";

const statuses: Record<ShipmentStatusName, ShipmentStatus> = {
  CREATED: ShipmentStatus.SHIPMENT_STATUS_CREATED,
  DISPATCHED: ShipmentStatus.SHIPMENT_STATUS_DISPATCHED,
  CANCELLED: ShipmentStatus.SHIPMENT_STATUS_CANCELLED,
};

/** A quote as the proto Quote. */
export function toQuote(quote: ShippingQuote) {
  return { cost: money.toMoney(quote.cost), carrier: quote.carrier, estimatedDays: quote.estimatedDays };
}

/** A shipment row as the proto Shipment. */
export function toShipment(row: ShipmentRow): Shipment {
  return {
    shipmentId: row.shipmentId,
    orderId: row.orderId,
    customerId: row.customerId,
    status: statuses[row.status],
    address: row.address,
    items: row.items,
    quote: toQuote({
      cost: { currency: row.costCurrency, nanos: row.costNanos },
      carrier: row.carrier,
      estimatedDays: row.estimatedDays,
    }),
    trackingNumber: row.trackingNumber ?? "",
    createTime: row.createdAt,
    dispatchTime: row.dispatchedAt ?? undefined,
  };
}
