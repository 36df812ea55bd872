import type { NotificationServiceService } from "@agora/contracts/agora/notification/v1/notification_service";
import { check, ownedCustomerId, pageOf, readPage, type ServiceHandlers } from "@agora/service-kit";
import { cursorOf, isNotificationCursor, type NotificationStore, toNotification } from "./notification-store";

/** The NotificationService RPCs. */
export function notificationHandlers(store: NotificationStore): ServiceHandlers<typeof NotificationServiceService> {
  return {
    async listNotifications(request, context) {
      const customerId = ownedCustomerId("customer_id", request.customerId, context.customerId);
      const orderId = request.orderId?.trim() ? check.uuid("order_id", request.orderId) : undefined;
      const page = readPage(request.page, isNotificationCursor);
      const { items, nextPageToken } = pageOf(await store.list(customerId, orderId, page), page.size, cursorOf);
      return { notifications: items.map(toNotification), page: { nextPageToken } };
    },
  };
}
