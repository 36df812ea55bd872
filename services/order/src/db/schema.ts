import type { Address } from "@agora/contracts/agora/common/v1/address";
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";

/** Where an order stands (the proto's OrderStatus without its prefix). */
export const orderStatuses = ["PENDING", "CONFIRMED", "SHIPPED", "REJECTED", "CANCELLED", "NEEDS_ATTENTION"] as const;
/** One of {@link orderStatuses}. */
export type OrderStatusName = (typeof orderStatuses)[number];

/**
 * The next thing a saga does; DONE when it has nothing left to do. CANCEL_SHIPMENT is the first
 * compensation step of a CONFIRMED order's cancellation (shipping must agree before anything is given back).
 */
export const sagaSteps = [
  "RESERVE_STOCK",
  "AUTHORIZE_PAYMENT",
  "COMMIT_STOCK",
  "CANCEL_SHIPMENT",
  "VOID_PAYMENT",
  "RELEASE_STOCK",
  "DONE",
] as const;
/** One of {@link sagaSteps}. */
export type SagaStep = (typeof sagaSteps)[number];

/** What a compensating saga ends in. */
export const compensationOutcomes = ["REJECTED", "CANCELLED"] as const;
/** One of {@link compensationOutcomes}. */
export type CompensationOutcome = (typeof compensationOutcomes)[number];

const timestamps = {
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
};

/**
 * Orders. The card is never stored: only the payment service's token and a summary such as
 * "visa •••• 4242". Amounts are exact: whole nanos of `currency`. A customer's idempotency key is
 * unique, so two PlaceOrder calls with the same key cannot both create an order.
 */
export const orders = pgTable(
  "orders",
  {
    orderId: uuid("order_id").primaryKey(),
    customerId: text("customer_id").notNull(),
    idempotencyKey: text("idempotency_key").notNull(),
    /** Hash of the lines and address the key was first used with: reusing a key for another order fails. */
    requestHash: text("request_hash").notNull(),
    status: text("status", { enum: orderStatuses }).notNull(),
    statusReason: text("status_reason").notNull().default(""),
    currency: text("currency").notNull(),
    totalNanos: bigint("total_nanos", { mode: "bigint" }).notNull(),
    shippingAddress: jsonb("shipping_address").$type<Address>().notNull(),
    paymentMethodId: text("payment_method_id").notNull(),
    paymentMethodSummary: text("payment_method_summary").notNull(),
    paymentId: text("payment_id").notNull().default(""),
    ...timestamps,
  },
  (table) => [
    unique("orders_customer_idempotency_key_unique").on(table.customerId, table.idempotencyKey),
    index("orders_customer_created_idx").on(table.customerId, table.createdAt.desc(), table.orderId.desc()),
    check(
      "orders_status_check",
      sql`${table.status} in ('PENDING', 'CONFIRMED', 'SHIPPED', 'REJECTED', 'CANCELLED', 'NEEDS_ATTENTION')`,
    ),
  ],
);

/** The lines of an order, priced at placement. */
export const orderLines = pgTable(
  "order_lines",
  {
    orderId: uuid("order_id")
      .notNull()
      .references(() => orders.orderId, { onDelete: "cascade" }),
    lineNumber: integer("line_number").notNull(),
    productId: text("product_id").notNull(),
    sku: text("sku").notNull(),
    name: text("name").notNull(),
    quantity: integer("quantity").notNull(),
    unitPriceNanos: bigint("unit_price_nanos", { mode: "bigint" }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.orderId, table.lineNumber] })],
);

/** Every status an order went through, oldest first (the proto's `history`). */
export const orderStatusChanges = pgTable(
  "order_status_changes",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    orderId: uuid("order_id")
      .notNull()
      .references(() => orders.orderId, { onDelete: "cascade" }),
    status: text("status", { enum: orderStatuses }).notNull(),
    reason: text("reason").notNull().default(""),
    changedAt: timestamp("changed_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [index("order_status_changes_order_idx").on(table.orderId, table.id)],
);

/**
 * The state of each order's saga: the next step, whether stock or a payment may be held (what a
 * compensation must undo), retry bookkeeping, the deadline, and the lease of the executor running it.
 * An executor claims due rows with FOR UPDATE SKIP LOCKED and a lease (lease_token, leased_until),
 * so replicas share the work and a crashed replica's saga is taken over once its lease ran out.
 */
export const orderSagas = pgTable(
  "order_sagas",
  {
    orderId: uuid("order_id")
      .primaryKey()
      .references(() => orders.orderId, { onDelete: "cascade" }),
    step: text("step", { enum: sagaSteps }).notNull(),
    /** Set while compensating: the status the order ends in once everything held is given back. */
    compensation: text("compensation", { enum: compensationOutcomes }),
    compensationReason: text("compensation_reason").notNull().default(""),
    stockMayBeHeld: boolean("stock_may_be_held").notNull().default(false),
    paymentMayBeHeld: boolean("payment_may_be_held").notNull().default(false),
    cancelRequested: boolean("cancel_requested").notNull().default(false),
    cancelReason: text("cancel_reason").notNull().default(""),
    /** True while the order is NEEDS_ATTENTION: not run until an operator resumes it. */
    parked: boolean("parked").notNull().default(false),
    /** Failed attempts of the current step. */
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error").notNull().default(""),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    deadlineAt: timestamp("deadline_at", { withTimezone: true, mode: "date" }).notNull(),
    leaseToken: uuid("lease_token"),
    leasedUntil: timestamp("leased_until", { withTimezone: true, mode: "date" }),
    /** Correlation id and trace context of the PlaceOrder call, carried on to every step. */
    correlationId: text("correlation_id").notNull(),
    traceHeaders: jsonb("trace_headers").$type<Record<string, string>>().notNull().default({}),
    completedAt: timestamp("completed_at", { withTimezone: true, mode: "date" }),
    ...timestamps,
  },
  (table) => [
    index("order_sagas_due_idx").on(table.nextAttemptAt).where(sql`${table.step} <> 'DONE' and not ${table.parked}`),
    check(
      "order_sagas_step_check",
      sql`${table.step} in ('RESERVE_STOCK', 'AUTHORIZE_PAYMENT', 'COMMIT_STOCK', 'CANCEL_SHIPMENT', 'VOID_PAYMENT', 'RELEASE_STOCK', 'DONE')`,
    ),
  ],
);

/** What each saga step did, for operators (`select * from order_saga_log where order_id = …`). */
export const orderSagaLog = pgTable(
  "order_saga_log",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    orderId: uuid("order_id")
      .notNull()
      .references(() => orders.orderId, { onDelete: "cascade" }),
    step: text("step").notNull(),
    outcome: text("outcome").notNull(),
    detail: text("detail").notNull().default(""),
    at: timestamp("at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [index("order_saga_log_order_idx").on(table.orderId, table.id)],
);

export type OrderRow = typeof orders.$inferSelect;
export type OrderLineRow = typeof orderLines.$inferSelect;
export type OrderStatusChangeRow = typeof orderStatusChanges.$inferSelect;
export type SagaRow = typeof orderSagas.$inferSelect;
