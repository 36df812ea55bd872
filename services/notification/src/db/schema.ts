import { bigserial, index, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * Notifications sent to customers: one per event (`event_id` is unique, on top of the inbox), kept
 * as the record of what went out and listed by ListNotifications. `seq` orders them (newest = highest)
 * and is the keyset for paging. The built-in channel "sends" by writing this row; a real provider
 * would deliver first and then record here.
 */
export const notifications = pgTable(
  "notifications",
  {
    notificationId: uuid("notification_id").primaryKey(),
    seq: bigserial("seq", { mode: "number" }).notNull().unique(),
    customerId: text("customer_id").notNull(),
    /** Channel name without prefix, e.g. "EMAIL". */
    channel: text("channel").notNull(),
    /** Where it went: the customer's email address at the time. */
    recipient: text("recipient").notNull(),
    eventId: uuid("event_id").notNull().unique(),
    eventType: text("event_type").notNull(),
    /** The order it concerns, "" when none. */
    orderId: text("order_id").notNull(),
    subject: text("subject").notNull(),
    body: text("body").notNull(),
    sentAt: timestamp("sent_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (table) => [
    index("notifications_customer_idx").on(table.customerId, table.seq.desc()),
    index("notifications_customer_order_idx").on(table.customerId, table.orderId, table.seq.desc()),
  ],
);

export type NotificationRow = typeof notifications.$inferSelect;
export type NewNotificationRow = typeof notifications.$inferInsert;
