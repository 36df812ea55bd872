import { NotFoundError } from "@agora/service-kit";
import type { OrderStore } from "./order-store";
import type { OrderView } from "./orders";

/**
 * The order if the caller may see it: NOT_FOUND when it does not exist or, for a call the gateway
 * made for a customer (`customerId` set), when it belongs to someone else. Services (no customer)
 * are trusted.
 */
export async function visibleOrder(
  store: OrderStore,
  orderId: string,
  customerId: string | undefined,
): Promise<OrderView> {
  const view = await store.get(orderId);
  if (!view || (customerId !== undefined && view.order.customerId !== customerId)) {
    throw new NotFoundError(`order ${orderId} not found`);
  }
  return view;
}
