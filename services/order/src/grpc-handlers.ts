import type { OrderServiceService } from "@agora/contracts/agora/order/v1/order_service";
import { pageOf, readPage, type ServiceHandlers } from "@agora/service-kit";
import { type CancelOrderDeps, cancelOrder } from "./cancel-order";
import { visibleOrder } from "./order-access";
import type { OrderStore } from "./order-store";
import { effectiveCustomerId, validateCancelReason, validateOrderId, validatePlaceOrder } from "./order-validation";
import { isOrderCursor, type OrderView, toOrderProto } from "./orders";
import { type PlaceOrderDeps, placeOrder } from "./place-order";
import { type WatchOrderDeps, watchOrder } from "./watch-order";

/** What the OrderService RPCs work with. */
export interface OrderHandlerDeps {
  readonly store: OrderStore;
  readonly place: PlaceOrderDeps;
  readonly cancel: CancelOrderDeps;
  readonly watch: WatchOrderDeps;
}

const cursorOf = (view: OrderView) => ({ t: view.order.createdAt.getTime(), id: view.order.orderId });

/**
 * The OrderService RPCs: validate (errors name the field), apply the ownership rule (a customer the
 * gateway vouches for sees only their orders; others are NOT_FOUND), call the domain, map to protos.
 */
export function orderHandlers(deps: OrderHandlerDeps): ServiceHandlers<typeof OrderServiceService> {
  return {
    async placeOrder(request, context) {
      const valid = validatePlaceOrder(request, context.customerId);
      return { order: toOrderProto(await placeOrder(valid, deps.place)) };
    },

    async getOrder(request, context) {
      const orderId = validateOrderId("order_id", request.orderId);
      return { order: toOrderProto(await visibleOrder(deps.store, orderId, context.customerId)) };
    },

    async listOrders(request, context) {
      const customerId = effectiveCustomerId("customer_id", request.customerId, context.customerId);
      const page = readPage(request.page, isOrderCursor);
      const { items, nextPageToken } = pageOf(await deps.store.list(customerId, page), page.size, cursorOf);
      return { orders: items.map(toOrderProto), page: { nextPageToken } };
    },

    async cancelOrder(request, context) {
      const orderId = validateOrderId("order_id", request.orderId);
      const reason = validateCancelReason(request.reason);
      const view = await cancelOrder(orderId, reason, context.customerId, deps.cancel, {
        signal: context.signal,
        deadline: context.deadline,
      });
      return { order: toOrderProto(view) };
    },

    async watchOrder(request, context, stream) {
      const orderId = validateOrderId("order_id", request.orderId);
      await watchOrder(
        orderId,
        context.customerId,
        deps.watch,
        (view) => stream.send({ order: toOrderProto(view) }),
        context.signal,
      );
    },
  };
}
