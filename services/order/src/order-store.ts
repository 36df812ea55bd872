import { randomUUID } from "node:crypto";
import {
  OrderCancelledEvent,
  OrderConfirmedEvent,
  OrderNeedsAttentionEvent,
  OrderPlacedEvent,
  OrderRejectedEvent,
  OrderShippedEvent,
} from "@agora/contracts";
import type { Address } from "@agora/contracts/agora/common/v1/address";
import { type Db, notifyAfterCommit, type Outbox, type Page, type Tx } from "@agora/service-kit";
import { and, asc, desc, eq, inArray, lt, or, sql } from "drizzle-orm";
import type * as schema from "./db/schema";
import {
  type OrderLineRow,
  type OrderStatusChangeRow,
  type OrderStatusName,
  orderLines,
  orderSagaLog,
  orderSagas,
  orderStatusChanges,
  orders,
} from "./db/schema";
import { type OrderCursor, type OrderView, toOrderProto } from "./orders";

/** The order service's drizzle schema. */
export type OrderSchema = typeof schema;
/** A transaction on the order database. */
export type OrderTx = Tx<OrderSchema>;

/** NOTIFY channel carrying the id of an order whose status changed (WatchOrder, CancelOrder wait on it). */
export const orderChangedChannel = "agora_order_changed";
/** NOTIFY channel that wakes saga executors in every replica (payload: the order id). */
export const sagaDueChannel = "agora_order_saga_due";

/** A priced line, ready to store. */
export interface PricedLine {
  readonly productId: string;
  readonly sku: string;
  readonly name: string;
  readonly quantity: number;
  readonly unitPriceNanos: bigint;
}

/** A new order as PlaceOrder built it. */
export interface NewOrder {
  readonly customerId: string;
  readonly idempotencyKey: string;
  readonly requestHash: string;
  readonly currency: string;
  readonly lines: readonly PricedLine[];
  readonly shippingAddress: Address;
  readonly paymentMethodId: string;
  readonly paymentMethodSummary: string;
}

/** What starts the order's saga: its deadline and the context its steps continue. */
export interface SagaStart {
  readonly deadlineMs: number;
  readonly correlationId: string;
  readonly traceHeaders: Record<string, string>;
  /**
   * A lease of this replica's executor: the saga is written claimed by it, with the first step's
   * intent recorded (stock may be held from now on), and the executor runs it at once. Without one the
   * saga is written due and any replica's executor claims it.
   */
  readonly lease?: { readonly token: string; readonly ms: number };
}

/** A status change and what else changes with it. */
export interface StatusChange {
  readonly status: OrderStatusName;
  readonly reason: string;
  readonly paymentId?: string;
}

/** Interval of `ms` milliseconds as SQL. */
export function millis(ms: number) {
  return sql`(${Math.max(0, Math.round(ms))} * interval '1 millisecond')`;
}

/**
 * Reads and writes orders. Every status change goes through {@link OrderStore.changeStatus}: order
 * row, history entry, the matching event in the outbox and a NOTIFY for watchers, all in the caller's
 * transaction.
 */
export class OrderStore {
  constructor(
    readonly db: Db<OrderSchema>,
    private readonly outbox: Outbox,
  ) {}

  /** The order with its lines and history, or undefined. */
  async get(orderId: string, tx?: OrderTx): Promise<OrderView | undefined> {
    const db = tx ?? this.db;
    const [order] = await db.select().from(orders).where(eq(orders.orderId, orderId));
    if (!order) return undefined;
    return { order, ...(await this.linesAndHistory(db, orderId)) };
  }

  /** An order's lines (in line order) and status history (oldest first), read together. */
  private async linesAndHistory(db: Db<OrderSchema> | OrderTx, orderId: string) {
    const [lines, history] = await Promise.all([
      db.select().from(orderLines).where(eq(orderLines.orderId, orderId)).orderBy(asc(orderLines.lineNumber)),
      db
        .select()
        .from(orderStatusChanges)
        .where(eq(orderStatusChanges.orderId, orderId))
        .orderBy(asc(orderStatusChanges.id)),
    ]);
    return { lines, history };
  }

  /** The order a customer placed with an idempotency key, or undefined. */
  async findByKey(customerId: string, idempotencyKey: string, tx?: OrderTx): Promise<OrderView | undefined> {
    const db = tx ?? this.db;
    const [row] = await db
      .select({ orderId: orders.orderId })
      .from(orders)
      .where(and(eq(orders.customerId, customerId), eq(orders.idempotencyKey, idempotencyKey)));
    return row ? this.get(row.orderId, tx) : undefined;
  }

  /** One page of a customer's orders, newest first; asks for one extra to know whether more follow. */
  async list(customerId: string, page: Page<OrderCursor>): Promise<OrderView[]> {
    const after = page.after
      ? or(
          lt(orders.createdAt, new Date(page.after.t)),
          and(eq(orders.createdAt, new Date(page.after.t)), lt(orders.orderId, page.after.id)),
        )
      : undefined;
    const rows = await this.db
      .select()
      .from(orders)
      .where(and(eq(orders.customerId, customerId), after))
      .orderBy(desc(orders.createdAt), desc(orders.orderId))
      .limit(page.size + 1);
    if (rows.length === 0) return [];
    const ids = rows.map((row) => row.orderId);
    const [lines, history] = await Promise.all([
      this.db.select().from(orderLines).where(inArray(orderLines.orderId, ids)).orderBy(asc(orderLines.lineNumber)),
      this.db
        .select()
        .from(orderStatusChanges)
        .where(inArray(orderStatusChanges.orderId, ids))
        .orderBy(asc(orderStatusChanges.id)),
    ]);
    const linesOf = groupBy(lines, (line) => line.orderId);
    const historyOf = groupBy(history, (change) => change.orderId);
    return rows.map((order) => ({
      order,
      lines: linesOf.get(order.orderId) ?? [],
      history: historyOf.get(order.orderId) ?? [],
    }));
  }

  /**
   * Stores a new order as PENDING with its saga and `agora.order.placed`, in one transaction. When the
   * customer's idempotency key is taken (also by a concurrent call: the unique constraint decides),
   * nothing is written and the existing order is returned with `created: false`.
   */
  async place(order: NewOrder, saga: SagaStart): Promise<{ view: OrderView; created: boolean }> {
    return this.db.transaction(async (tx) => {
      const orderId = randomUUID();
      // Millisecond precision, so ListOrders page tokens (milliseconds) compare exactly.
      const now = new Date();
      const totalNanos = order.lines.reduce((sum, line) => sum + line.unitPriceNanos * BigInt(line.quantity), 0n);
      const [inserted] = await tx
        .insert(orders)
        .values({
          orderId,
          customerId: order.customerId,
          idempotencyKey: order.idempotencyKey,
          requestHash: order.requestHash,
          status: "PENDING",
          currency: order.currency,
          totalNanos,
          shippingAddress: order.shippingAddress,
          paymentMethodId: order.paymentMethodId,
          paymentMethodSummary: order.paymentMethodSummary,
          createdAt: now,
          updatedAt: now,
        })
        .onConflictDoNothing({ target: [orders.customerId, orders.idempotencyKey] })
        .returning();
      if (!inserted) {
        // The key is taken: this statement sees the committed winner (read committed).
        const existing = await this.findByKey(order.customerId, order.idempotencyKey, tx);
        if (!existing) throw new Error("idempotency key conflict without a visible order");
        return { view: existing, created: false };
      }
      // Independent writes, sent together (pipelined on the transaction's connection); the view is
      // what they return, not read back.
      const [lines, history] = await Promise.all([
        tx
          .insert(orderLines)
          .values(
            order.lines.map((line, index) => ({
              orderId,
              lineNumber: index + 1,
              productId: line.productId,
              sku: line.sku,
              name: line.name,
              quantity: line.quantity,
              unitPriceNanos: line.unitPriceNanos,
            })),
          )
          .returning(),
        tx.insert(orderStatusChanges).values({ orderId, status: "PENDING", reason: "", changedAt: now }).returning(),
        tx.insert(orderSagas).values({
          orderId,
          step: "RESERVE_STOCK",
          deadlineAt: sql`now() + ${millis(saga.deadlineMs)}`,
          nextAttemptAt: sql`now()`,
          correlationId: saga.correlationId,
          traceHeaders: saga.traceHeaders,
          ...(saga.lease
            ? {
                leaseToken: saga.lease.token,
                leasedUntil: sql`now() + ${millis(saga.lease.ms)}`,
                // What SagaStore.begin records before RESERVE_STOCK is called: a reservation may exist.
                stockMayBeHeld: true,
              }
            : {}),
        }),
        tx.insert(orderSagaLog).values({ orderId, step: "RESERVE_STOCK", outcome: "placed", detail: "" }),
      ]);
      const view: OrderView = {
        order: inserted,
        lines: lines.sort((a, b) => a.lineNumber - b.lineNumber),
        history,
      };
      await Promise.all([
        this.outbox.add(tx, OrderPlacedEvent, { order: toOrderProto(view) }, { aggregateId: orderId }),
        // A leased saga runs here; one written due wakes every replica's executor.
        saga.lease ? undefined : notifyAfterCommit(tx, sagaDueChannel, orderId),
        notifyAfterCommit(tx, orderChangedChannel, orderId),
      ]);
      return { view, created: true };
    });
  }

  /**
   * Moves an order to `change.status` in `tx`: the order row, a history entry, the status's event in
   * the outbox and a NOTIFY for watchers in other replicas. Returns the order after the change.
   */
  async changeStatus(tx: OrderTx, orderId: string, change: StatusChange): Promise<OrderView> {
    const now = new Date();
    // Two rounds of statements sent together: the writes, then the order's lines and history.
    const [[order]] = await Promise.all([
      tx
        .update(orders)
        .set({
          status: change.status,
          statusReason: change.reason,
          updatedAt: now,
          ...(change.paymentId ? { paymentId: change.paymentId } : {}),
        })
        .where(eq(orders.orderId, orderId))
        .returning(),
      tx.insert(orderStatusChanges).values({ orderId, status: change.status, reason: change.reason, changedAt: now }),
    ]);
    if (!order) throw new Error(`order ${orderId} vanished during a status change`);
    const view: OrderView = { order, ...(await this.linesAndHistory(tx, orderId)) };
    await Promise.all([this.recordEvent(tx, view, change.reason), notifyAfterCommit(tx, orderChangedChannel, orderId)]);
    return view;
  }

  /** Records the payment id learned during the saga (no status change). */
  async setPaymentId(tx: OrderTx, orderId: string, paymentId: string): Promise<void> {
    await tx.update(orders).set({ paymentId, updatedAt: new Date() }).where(eq(orders.orderId, orderId));
  }

  private async recordEvent(tx: OrderTx, view: OrderView, reason: string): Promise<void> {
    const order = toOrderProto(view);
    const about = { aggregateId: view.order.orderId };
    switch (view.order.status) {
      case "PENDING":
        await this.outbox.add(tx, OrderPlacedEvent, { order }, about);
        return;
      case "CONFIRMED":
        await this.outbox.add(tx, OrderConfirmedEvent, { order }, about);
        return;
      case "SHIPPED":
        await this.outbox.add(tx, OrderShippedEvent, { order }, about);
        return;
      case "REJECTED":
        await this.outbox.add(tx, OrderRejectedEvent, { order, reason }, about);
        return;
      case "CANCELLED":
        await this.outbox.add(tx, OrderCancelledEvent, { order, reason }, about);
        return;
      case "NEEDS_ATTENTION":
        await this.outbox.add(tx, OrderNeedsAttentionEvent, { order, reason }, about);
        return;
    }
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group) group.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}

export type { OrderLineRow, OrderStatusChangeRow };
