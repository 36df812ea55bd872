import type { ShippingServiceService } from "@agora/contracts/agora/shipping/v1/shipping_service";
import { check, exactlyOneOf, NotFoundError, type ServiceHandlers } from "@agora/service-kit";
import { validateAddress } from "./addresses";
import { toQuote, toShipment } from "./proto-mapping";
import type { ShipmentStore } from "./shipment-store";
import { quoteShipping, validateItems } from "./shipping-rates";

/** The ShippingService RPCs: validate the request, price or look up, map to protos. */
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
  };
}
