import type { ShippingServiceService } from "@agora/contracts/agora/shipping/v1/shipping_service";
import { check, exactlyOneOf, FailedPreconditionError, NotFoundError, type ServiceHandlers } from "@agora/service-kit";
import { validateAddress } from "./addresses";
import { toQuote, toShipment } from "./proto-mapping";
import type { ShipmentStore } from "./shipment-store";
import { quoteShipping, validateItems } from "./shipping-rates";

/** The ShippingService RPCs: validate the request, price, look up or cancel, map to protos. */
export function shippingHandlers(store: ShipmentStore): ServiceHandlers<typeof ShippingServiceService> {
  return {
    async getQuote(request) {
      const address = validateAddress("address", request.address);
      const items = validateItems("items", request.items);
      return { quote: toQuote(quoteShipping(address, items)) };
    },

    async getShipment(request, context) {
      const key = exactlyOneOf(["shipment_id", request.shipmentId], ["order_id", request.orderId]);
      const id = check.uuid(key.field, key.value);
      const shipment = key.field === "shipment_id" ? await store.byId(id) : await store.byOrder(id);
      // Ownership: a customer sees only their own shipments; another's is as good as absent.
      if (!shipment || (context.customerId !== undefined && shipment.customerId !== context.customerId)) {
        throw new NotFoundError(`shipment for ${key.field} ${id} not found`);
      }
      return { shipment: toShipment(shipment) };
    },

    async cancelShipment(request) {
      const orderId = check.uuid("order_id", request.orderId);
      const reason = check.optionalText("reason", request.reason, { max: 500 }) || "order cancelled";
      const { result, shipment } = await store.cancelShipment(orderId, reason);
      if (result === "already dispatched" && shipment) {
        throw new FailedPreconditionError(
          `order ${orderId}: shipment ${shipment.shipmentId} was dispatched at ${shipment.dispatchedAt?.toISOString()}` +
            `, tracking number ${shipment.trackingNumber}; it can no longer be cancelled`,
        );
      }
      return { shipment: shipment ? toShipment(shipment) : undefined };
    },
  };
}
