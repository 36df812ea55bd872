import type { Order } from "@agora/contracts/agora/order/v1/order";
import { check, InvalidArgumentError, PermanentEventError } from "@agora/service-kit";
import { validateAddress } from "./addresses";
import type { OrderToShip } from "./shipment-store";
import { validateItems } from "./shipping-rates";

/**
 * Reads what shipping needs from the order in an order.confirmed event: id, customer, shipping address
 * and the lines (SKU and quantity; lines of one SKU are added up). An order that cannot be shipped as
 * sent — no address, a malformed line — can never be applied: PermanentEventError, so it goes to the
 * dead letters for an operator instead of being retried.
 */
export function orderToShip(order: Order | undefined): OrderToShip {
  try {
    const given = check.present("order", order);
    const quantities = new Map<string, number>();
    for (const line of given.lines) quantities.set(line.sku, (quantities.get(line.sku) ?? 0) + line.quantity);
    return {
      orderId: check.uuid("order.order_id", given.orderId),
      customerId: check.text("order.customer_id", given.customerId, { max: 100 }),
      address: validateAddress("order.shipping_address", given.shippingAddress),
      items: validateItems(
        "order.lines",
        [...quantities].map(([sku, quantity]) => ({ sku, quantity })),
      ),
    };
  } catch (error) {
    if (error instanceof InvalidArgumentError)
      throw new PermanentEventError(`order cannot be shipped: ${error.message}`);
    throw error;
  }
}
