import { sql } from "drizzle-orm";
import { index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";
import type { ViewState } from "../projection";

/**
 * The columns of a view table: the whole projected state in `view` (jsonb, see projection.ts), plus
 * what lists filter and sort on. `place_time` is null until the order itself is known (the view is
 * hidden until then).
 */
const viewColumns = () => ({
  orderId: text("order_id").primaryKey(),
  customerId: text("customer_id").notNull(),
  status: text("status").notNull(),
  placeTime: timestamp("place_time", { withTimezone: true, mode: "date" }),
  updateTime: timestamp("update_time", { withTimezone: true, mode: "date" }).notNull(),
  view: jsonb("view").$type<ViewState>().notNull(),
});

/** The live views: one row per order, kept up to date by the event consumers. */
export const orderViews = pgTable("order_views", viewColumns(), (table) => [
  index("order_views_customer_idx")
    .on(table.customerId, table.placeTime.desc(), table.orderId.desc())
    .where(sql`${table.placeTime} is not null`),
]);

/**
 * Where a rebuild replays the streams into; swapped with `order_views` (names of tables, keys and
 * indexes) in one transaction when it caught up, then emptied. Empty except during a rebuild.
 */
export const orderViewsRebuild = pgTable("order_views_rebuild", viewColumns(), (table) => [
  index("order_views_rebuild_customer_idx")
    .on(table.customerId, table.placeTime.desc(), table.orderId.desc())
    .where(sql`${table.placeTime} is not null`),
]);

/** A view table: the live one or the rebuild target. */
export type ViewTable = typeof orderViews | typeof orderViewsRebuild;
export type ViewRow = typeof orderViews.$inferSelect;
