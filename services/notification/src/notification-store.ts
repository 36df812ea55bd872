import type { Notification } from "@agora/contracts/agora/notification/v1/notification";
import { Channel } from "@agora/contracts/agora/notification/v1/notification";
import type { Db, Page } from "@agora/service-kit";
import { and, desc, eq, lt } from "drizzle-orm";
import { type NotificationRow, notifications } from "./db/schema";

type Schema = { notifications: typeof notifications };

/** Where a page stopped: the `seq` of the last notification shown (lists go newest first). */
export interface NotificationCursor {
  seq: number;
}

/** True for a cursor this service wrote into a page token. */
export function isNotificationCursor(value: unknown): value is NotificationCursor {
  return (
    typeof value === "object" &&
    value !== null &&
    Number.isSafeInteger((value as { seq?: unknown }).seq) &&
    ((value as { seq: number }).seq ?? 0) > 0
  );
}

/** The cursor after a row. */
export function cursorOf(row: NotificationRow): NotificationCursor {
  return { seq: row.seq };
}

const channels: Record<string, Channel> = { EMAIL: Channel.CHANNEL_EMAIL };

/** The proto Notification of a row. */
export function toNotification(row: NotificationRow): Notification {
  return {
    notificationId: row.notificationId,
    customerId: row.customerId,
    channel: channels[row.channel] ?? Channel.CHANNEL_UNSPECIFIED,
    eventId: row.eventId,
    eventType: row.eventType,
    orderId: row.orderId,
    subject: row.subject,
    body: row.body,
    sendTime: row.sentAt,
  };
}

/** Reads sent notifications. */
export class NotificationStore {
  constructor(private readonly db: Db<Schema>) {}

  /** One page of a customer's notifications, newest first, optionally about one order; one extra row. */
  list(customerId: string, orderId: string | undefined, page: Page<NotificationCursor>): Promise<NotificationRow[]> {
    return this.db
      .select()
      .from(notifications)
      .where(
        and(
          eq(notifications.customerId, customerId),
          orderId ? eq(notifications.orderId, orderId) : undefined,
          page.after ? lt(notifications.seq, page.after.seq) : undefined,
        ),
      )
      .orderBy(desc(notifications.seq))
      .limit(page.size + 1);
  }
}
