import type { OrderHistoryServiceService } from "@agora/contracts/agora/orderhistory/v1/order_history_service";
import { check, NotFoundError, ownedCustomerId, pageOf, readPage, type ServiceHandlers } from "@agora/service-kit";

import { customerOf, isVisible, toOrderView } from "./projection";
import { cursorOf, isViewCursor, type ViewStore } from "./view-store";

/** The OrderHistoryService RPCs: read the views, applying the ownership rule. */
export function orderHistoryHandlers(store: ViewStore): ServiceHandlers<typeof OrderHistoryServiceService> {
  return {
    async getOrderView(request, context) {
      const orderId = check.uuid("order_id", request.orderId);
      const view = await store.get(orderId);
      // Not shown until the order itself is known; through the gateway only the customer's own.
      if (!view || !isVisible(view) || (context.customerId !== undefined && customerOf(view) !== context.customerId)) {
        throw new NotFoundError(`order ${orderId} not found`);
      }
      return { view: toOrderView(view) };
    },

    async listCustomerOrders(request, context) {
      const customerId = ownedCustomerId("customer_id", request.customerId, context.customerId);
      const page = readPage(request.page, isViewCursor);
      const { items, nextPageToken } = pageOf(await store.listByCustomer(customerId, page), page.size, cursorOf);
      return { views: items.map(toOrderView), page: { nextPageToken } };
    },
  };
}
