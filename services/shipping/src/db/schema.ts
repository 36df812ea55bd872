import type { Address } from "@agora/contracts/agora/common/v1/address";
import { sql } from "drizzle-orm";
import { bigint, index, integer, jsonb, pgSequence, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

const moment = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/** Where a shipment stands (the proto's ShipmentStatus without the prefix). */
export const shipmentStatuses = ["CREATED", "DISPATCHED", "CANCELLED"] as const;
export type ShipmentStatusName = (typeof shipmentStatuses)[number];

/**
 * One shipment per confirmed order (order_id is unique). A CREATED shipment has a dispatch_due_at: the
 * dispatcher hands it to the carrier once that time has passed, so a crash between creation and
 * dispatch delays nothing but the dispatch itself.
 */
export const shipments = pgTable(
  "shipments",
  {
    shipmentId: uuid("shipment_id").primaryKey(),
    orderId: text("order_id").notNull().unique(),
    customerId: text("customer_id").notNull(),
    status: text("status", { enum: shipmentStatuses }).notNull(),
    address: jsonb("address").$type<Address>().notNull(),
    items: jsonb("items").$type<{ sku: string; quantity: number }[]>().notNull(),
    costCurrency: text("cost_currency").notNull(),
    costNanos: bigint("cost_nanos", { mode: "bigint" }).notNull(),
    carrier: text("carrier").notNull(),
    estimatedDays: integer("estimated_days").notNull(),
    trackingNumber: text("tracking_number").unique(),
    dispatchDueAt: moment("dispatch_due_at"),
    cancelReason: text("cancel_reason"),
    createdAt: moment("created_at").notNull().defaultNow(),
    dispatchedAt: moment("dispatched_at"),
    cancelledAt: moment("cancelled_at"),
    updatedAt: moment("updated_at").notNull().defaultNow(),
  },
  (table) => [
    index("shipments_dispatch_due_idx").on(table.dispatchDueAt).where(sql`${table.status} = 'CREATED'`),
    index("shipments_customer_idx").on(table.customerId),
  ],
);

/**
 * Orders known to be cancelled. A cancellation may be consumed before the confirmation it follows
 * (redeliveries reorder events); a confirmation of a cancelled order creates no shipment.
 */
export const cancelledOrders = pgTable("cancelled_orders", {
  orderId: text("order_id").primaryKey(),
  reason: text("reason").notNull(),
  cancelledAt: moment("cancelled_at").notNull().defaultNow(),
});

/** Serial numbers of tracking numbers: unique by construction. */
export const trackingSerials = pgSequence("tracking_serials", { startWith: 1, minValue: 1 });

export type ShipmentRow = typeof shipments.$inferSelect;
