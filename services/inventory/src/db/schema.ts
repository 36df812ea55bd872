import { sql } from "drizzle-orm";
import { bigserial, check, index, integer, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";

const moment = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });

/**
 * Stock of each SKU. `available` is not stored: it is on_hand − reserved. The checks make negative
 * stock impossible whatever the code does: reserved never drops below zero and on-hand stock always
 * covers what is reserved.
 */
export const stockLevels = pgTable(
  "stock_levels",
  {
    sku: text("sku").primaryKey(),
    onHand: integer("on_hand").notNull(),
    reserved: integer("reserved").notNull().default(0),
    updatedAt: moment("updated_at").notNull().defaultNow(),
  },
  (table) => [
    check("stock_levels_reserved_not_negative", sql`${table.reserved} >= 0`),
    check("stock_levels_on_hand_covers_reserved", sql`${table.onHand} >= ${table.reserved}`),
  ],
);

/** Where a reservation stands (the proto's ReservationStatus without the prefix). */
export const reservationStatuses = ["RESERVED", "COMMITTED", "RELEASED", "EXPIRED"] as const;
export type ReservationStatusName = (typeof reservationStatuses)[number];

/**
 * Stock held for one order (one reservation per order: order_id is unique and is the idempotency key
 * of ReserveStock). RESERVED rows past expires_at are released by the expiry sweeper.
 */
export const reservations = pgTable(
  "reservations",
  {
    reservationId: uuid("reservation_id").primaryKey(),
    orderId: text("order_id").notNull().unique(),
    status: text("status", { enum: reservationStatuses }).notNull(),
    expiresAt: moment("expires_at").notNull(),
    /** Why it was released or expired. */
    releaseReason: text("release_reason"),
    createdAt: moment("created_at").notNull().defaultNow(),
    updatedAt: moment("updated_at").notNull().defaultNow(),
  },
  (table) => [index("reservations_due_idx").on(table.expiresAt).where(sql`${table.status} = 'RESERVED'`)],
);

/** The units of each SKU a reservation holds. */
export const reservationLines = pgTable(
  "reservation_lines",
  {
    reservationId: uuid("reservation_id")
      .notNull()
      .references(() => reservations.reservationId),
    sku: text("sku")
      .notNull()
      .references(() => stockLevels.sku),
    quantity: integer("quantity").notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.reservationId, table.sku] }),
    check("reservation_lines_quantity_positive", sql`${table.quantity} > 0`),
  ],
);

/** Audit trail of every change to on-hand stock that is not a reservation: AdjustStock and initial stock. */
export const stockAdjustments = pgTable(
  "stock_adjustments",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    sku: text("sku")
      .notNull()
      .references(() => stockLevels.sku),
    delta: integer("delta").notNull(),
    reason: text("reason").notNull(),
    onHandAfter: integer("on_hand_after").notNull(),
    createdAt: moment("created_at").notNull().defaultNow(),
  },
  (table) => [index("stock_adjustments_sku_idx").on(table.sku, table.id)],
);

export type StockLevelRow = typeof stockLevels.$inferSelect;
export type ReservationRow = typeof reservations.$inferSelect;
