import { sql } from "drizzle-orm";
import { bigint, bigserial, check, index, integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

const moment = (name: string) => timestamp(name, { withTimezone: true, mode: "date" });
/** Money columns hold whole nanos (billionths of the currency unit): exact arithmetic. */
const nanos = (name: string) => bigint(name, { mode: "bigint" });

/**
 * Tokenized cards: brand, last four digits, expiry and the processor's token. Never the number or
 * the CVC — those go to the processor and are forgotten.
 */
export const paymentMethods = pgTable(
  "payment_methods",
  {
    paymentMethodId: text("payment_method_id").primaryKey(),
    brand: text("brand").notNull(),
    last4: text("last4").notNull(),
    expMonth: integer("exp_month").notNull(),
    expYear: integer("exp_year").notNull(),
    /** The processor's token for the card (the simulator's carries the test card's behaviour). */
    processorToken: text("processor_token").notNull(),
    createdAt: moment("created_at").notNull().defaultNow(),
  },
  (table) => [check("payment_methods_last4_digits", sql`${table.last4} ~ '^[0-9]{4}$'`)],
);

/** Where a payment stands (the proto's PaymentStatus without the prefix). */
export const paymentStatuses = [
  "AUTHORIZED",
  "DECLINED",
  "CAPTURED",
  "VOIDED",
  "PARTIALLY_REFUNDED",
  "REFUNDED",
] as const;
export type PaymentStatusName = (typeof paymentStatuses)[number];

/** Why an authorization was declined (the proto's DeclineReason without the prefix). */
export const declineReasons = ["GENERIC", "INSUFFICIENT_FUNDS", "EXPIRED_CARD"] as const;

/** The payment of one order (order_id is unique: AuthorizePayment is idempotent by order). */
export const payments = pgTable(
  "payments",
  {
    paymentId: uuid("payment_id").primaryKey(),
    orderId: text("order_id").notNull().unique(),
    customerId: text("customer_id").notNull(),
    status: text("status", { enum: paymentStatuses }).notNull(),
    currency: text("currency").notNull(),
    amountNanos: nanos("amount_nanos").notNull(),
    capturedNanos: nanos("captured_nanos").notNull().default(sql`0`),
    refundedNanos: nanos("refunded_nanos").notNull().default(sql`0`),
    paymentMethodId: text("payment_method_id")
      .notNull()
      .references(() => paymentMethods.paymentMethodId),
    declineReason: text("decline_reason", { enum: declineReasons }),
    /** The processor's reference of the authorization (or of the decline). */
    authorizationReference: text("authorization_reference").notNull(),
    createdAt: moment("created_at").notNull().defaultNow(),
    updatedAt: moment("updated_at").notNull().defaultNow(),
  },
  (table) => [
    index("payments_customer_idx").on(table.customerId),
    check("payments_amount_positive", sql`${table.amountNanos} > 0`),
    check("payments_captured_within_amount", sql`${table.capturedNanos} between 0 and ${table.amountNanos}`),
    check("payments_refunded_within_captured", sql`${table.refundedNanos} between 0 and ${table.capturedNanos}`),
  ],
);

/** Kind of money movement (the proto's LedgerEntryType without the prefix). */
export const ledgerEntryTypes = ["AUTHORIZATION", "CAPTURE", "VOID", "REFUND"] as const;
export type LedgerEntryTypeName = (typeof ledgerEntryTypes)[number];

/**
 * Every money movement of every payment. Append-only: a trigger (migration 0001) refuses UPDATE and
 * DELETE, so history cannot be rewritten. A refund's client-chosen refund_id is unique: the same refund
 * is recorded once.
 */
export const ledgerEntries = pgTable(
  "ledger_entries",
  {
    sequence: bigserial("sequence", { mode: "number" }).primaryKey(),
    entryId: uuid("entry_id").notNull().unique(),
    paymentId: uuid("payment_id")
      .notNull()
      .references(() => payments.paymentId),
    type: text("type", { enum: ledgerEntryTypes }).notNull(),
    currency: text("currency").notNull(),
    amountNanos: nanos("amount_nanos").notNull(),
    processorReference: text("processor_reference").notNull(),
    refundId: text("refund_id").unique(),
    reason: text("reason").notNull().default(""),
    createdAt: moment("created_at").notNull().defaultNow(),
  },
  (table) => [
    index("ledger_entries_payment_idx").on(table.paymentId, table.sequence),
    check("ledger_entries_amount_positive", sql`${table.amountNanos} > 0`),
  ],
);

/**
 * The card processor simulator's memory: attempts and result per idempotency key, so the transient
 * test card fails twice per order across restarts and a repeated key gets the same answer.
 */
export const simulatorOperations = pgTable("simulator_operations", {
  idempotencyKey: text("idempotency_key").primaryKey(),
  attempts: integer("attempts").notNull(),
  result: jsonb("result"),
  updatedAt: moment("updated_at").notNull().defaultNow(),
});

/**
 * Captures asked for by agora.shipping.shipment_dispatched, recorded in the consumer's transaction and
 * carried out by the capture worker (src/capture-worker.ts) outside any transaction: the card processor
 * is never called while a transaction is open. One row per payment (a redelivered event adds nothing);
 * the row is deleted once the payment is captured (or turns out not capturable). A claimed row's
 * next_attempt_at is pushed past the attempt, so a request whose worker died is taken up again.
 */
export const captureRequests = pgTable(
  "capture_requests",
  {
    paymentId: uuid("payment_id")
      .primaryKey()
      .references(() => payments.paymentId),
    orderId: text("order_id").notNull(),
    /** The shipment_dispatched event that asked for the capture (for logs). */
    eventId: text("event_id").notNull(),
    requestedAt: moment("requested_at").notNull().defaultNow(),
    /** Attempts started so far. */
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: moment("next_attempt_at").notNull().defaultNow(),
    /** Why the last attempt failed; null before the first failure. */
    lastError: text("last_error"),
  },
  (table) => [index("capture_requests_due_idx").on(table.nextAttemptAt)],
);

export type PaymentMethodRow = typeof paymentMethods.$inferSelect;
export type PaymentRow = typeof payments.$inferSelect;
export type LedgerEntryRow = typeof ledgerEntries.$inferSelect;
export type CaptureRequestRow = typeof captureRequests.$inferSelect;
