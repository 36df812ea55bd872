import type { Db, Page, Tx } from "@agora/service-kit";
import { and, asc, desc, eq, isNotNull, lt, or, type SQL } from "drizzle-orm";
import { orderViews, type orderViewsRebuild, type ViewTable } from "./db/schema";
import { applyEvents, customerOf, emptyView, type ViewEvent, type ViewState } from "./projection";

/** The schema the store works on. */
export type ViewSchema = { orderViews: typeof orderViews; orderViewsRebuild: typeof orderViewsRebuild };

/** Where a list page stopped: the last (place time, order id) shown; lists go newest first. */
export interface ViewCursor {
  placeTime: string;
  orderId: string;
}

/** True for a cursor this service wrote into a page token. */
export function isViewCursor(value: unknown): value is ViewCursor {
  if (typeof value !== "object" || value === null) return false;
  const cursor = value as Record<string, unknown>;
  return (
    typeof cursor.placeTime === "string" &&
    !Number.isNaN(Date.parse(cursor.placeTime)) &&
    typeof cursor.orderId === "string" &&
    cursor.orderId.length <= 100
  );
}

/** The cursor of a view on a page. */
export function cursorOf(view: ViewState): ViewCursor {
  return { placeTime: view.order?.placeTime ?? new Date(0).toISOString(), orderId: view.orderId };
}

function groupByOrder(events: readonly ViewEvent[]): Map<string, ViewEvent[]> {
  const groups = new Map<string, ViewEvent[]>();
  for (const event of events) groups.set(event.orderId, [...(groups.get(event.orderId) ?? []), event]);
  return groups;
}

/** Reads and writes order views. */
export class ViewStore {
  constructor(private readonly db: Db<ViewSchema>) {}

  /**
   * Applies events to the views in `table` inside `tx`: per order, creates the row on first sight of
   * any event, locks it, folds the events in and writes it back. Orders are locked in id order, so
   * concurrent appliers never deadlock.
   */
  async apply(tx: Tx<ViewSchema>, table: ViewTable, events: readonly ViewEvent[]): Promise<number> {
    let changed = 0;
    const groups = [...groupByOrder(events)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [orderId, orderEvents] of groups) {
      await tx
        .insert(table)
        .values({
          orderId,
          customerId: "",
          status: "",
          placeTime: null,
          updateTime: new Date(0),
          view: emptyView(orderId),
        })
        .onConflictDoNothing();
      const [row] = await tx.select({ view: table.view }).from(table).where(eq(table.orderId, orderId)).for("update");
      if (!row) throw new Error(`view of order ${orderId} vanished while being updated`);
      const next = applyEvents(row.view, orderEvents);
      if (next === row.view) continue;
      await tx
        .update(table)
        .set({
          customerId: customerOf(next),
          status: next.order?.status ?? "",
          placeTime: next.order ? new Date(next.order.placeTime) : null,
          updateTime: new Date(next.updateTime),
          view: next,
        })
        .where(eq(table.orderId, orderId));
      changed++;
    }
    return changed;
  }

  /** The live view of an order, shown or not yet. */
  async get(orderId: string): Promise<ViewState | undefined> {
    const [row] = await this.db
      .select({ view: orderViews.view })
      .from(orderViews)
      .where(eq(orderViews.orderId, orderId));
    return row?.view;
  }

  /** One page of a customer's shown views, newest placed first; asks for one extra to know if more follow. */
  async listByCustomer(customerId: string, page: Page<ViewCursor>): Promise<ViewState[]> {
    let after: SQL | undefined;
    if (page.after) {
      const placeTime = new Date(page.after.placeTime);
      after = or(
        lt(orderViews.placeTime, placeTime),
        and(eq(orderViews.placeTime, placeTime), lt(orderViews.orderId, page.after.orderId)),
      );
    }
    const rows = await this.db
      .select({ view: orderViews.view })
      .from(orderViews)
      .where(and(eq(orderViews.customerId, customerId), isNotNull(orderViews.placeTime), after))
      .orderBy(desc(orderViews.placeTime), desc(orderViews.orderId))
      .limit(page.size + 1);
    return rows.map((row) => row.view);
  }

  /** Every row of a view table, by order id (to compare a rebuild with the live views). */
  async all(table: ViewTable = orderViews): Promise<Array<typeof orderViews.$inferSelect>> {
    return this.db.select().from(table).orderBy(asc(table.orderId));
  }
}
