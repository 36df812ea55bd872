import { randomBytes, randomUUID } from "node:crypto";
import {
  type Db,
  DomainError,
  FailedPreconditionError,
  InvalidArgumentError,
  money,
  NotFoundError,
  type Tx,
  UnavailableError,
} from "@agora/service-kit";
import { asc, eq, sql } from "drizzle-orm";
import { type CardProcessor, ProcessorUnavailableError } from "./card-processor";
import { type CardDetails, hasExpired, summaryOf } from "./cards";
import type * as schema from "./db/schema";
import {
  type LedgerEntryRow,
  type LedgerEntryTypeName,
  ledgerEntries,
  type PaymentMethodRow,
  type PaymentRow,
  paymentMethods,
  payments,
} from "./db/schema";
import {
  type AuthorizationRequest,
  authorizationMismatch,
  type RefundRequest,
  refundableOf,
  statusAfterRefund,
} from "./payment-rules";

type Schema = typeof schema;
type PaymentTx = Tx<Schema>;

/** A payment with its card and its ledger (oldest entry first). */
export interface PaymentView extends PaymentRow {
  readonly method: PaymentMethodRow;
  readonly ledger: LedgerEntryRow[];
}

/** The events payment publishes, one per change. */
export type PaymentChange = "authorized" | "declined" | "captured" | "voided" | "refunded";

/** What happens, in the transaction of a change, to announce it: main.ts writes to the outbox. */
export interface PaymentEvents {
  changed(tx: PaymentTx, payment: PaymentView, change: PaymentChange): Promise<void>;
}

/** How long the caller waits and how it cancels (from the gRPC call; absent for event consumers). */
export interface CallerLimits {
  readonly deadline?: Date;
  readonly signal?: AbortSignal;
}

/** What the shipment_dispatched consumer did. */
export type ShipmentCaptureResult = "captured" | "already captured" | "no payment" | "not capturable";

/**
 * Payments, their ledger and the card processor behind them.
 *
 * Idempotency: an authorization is keyed by its order (unique order_id; the processor gets
 * "authorize:<order id>" as its idempotency key, so two racing first attempts get one hold); capture,
 * void and refund lock the payment row for the processor call (bounded by PROCESSOR_TIMEOUT_MS), so the
 * operations on one payment happen one after another, and send "capture:/void:<payment id>" and
 * "refund:<refund id>" as keys. A processor that does not answer in time, or fails transiently, is
 * UNAVAILABLE and nothing is recorded.
 */
export class Payments {
  constructor(
    private readonly db: Db<Schema>,
    private readonly processor: CardProcessor,
    private readonly events: PaymentEvents,
    private readonly options: { processorTimeoutMs: number; now?: () => Date },
  ) {}

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Registers a validated card with the processor and stores its token; the number is forgotten here. */
  async tokenize(card: CardDetails, caller: CallerLimits = {}): Promise<PaymentMethodRow> {
    const processorToken = await this.withProcessor("stored", caller, () => this.processor.registerCard(card));
    const [row] = await this.db
      .insert(paymentMethods)
      .values({ paymentMethodId: `pm_${randomBytes(12).toString("hex")}`, processorToken, ...summaryOf(card) })
      .returning();
    return row as PaymentMethodRow;
  }

  /**
   * Holds the amount on the card: AUTHORIZED, or DECLINED (a decline is a payment, not an error).
   * Idempotent by order id: a second request for the order returns the first payment, whatever card it
   * names; FAILED_PRECONDITION if it names another customer or amount. NOT_FOUND for an unknown card
   * token. UNAVAILABLE when the processor fails or does not answer in time — nothing is recorded then.
   */
  async authorize(request: AuthorizationRequest, caller: CallerLimits = {}): Promise<PaymentView> {
    const existing = await this.findByOrder(request.orderId);
    if (existing) return this.sameAuthorization(existing, request);
    const [method] = await this.db
      .select()
      .from(paymentMethods)
      .where(eq(paymentMethods.paymentMethodId, request.paymentMethodId));
    if (!method) throw new NotFoundError(`payment method ${request.paymentMethodId} not found`);

    const outcome = hasExpired(method.expMonth, method.expYear, this.now())
      ? ({ approved: false, decline: "EXPIRED_CARD", reference: "not sent: card expired" } as const)
      : await this.withProcessor("authorized", caller, (signal) =>
          this.processor.authorize({
            idempotencyKey: `authorize:${request.orderId}`,
            processorToken: method.processorToken,
            amount: request.amount,
            signal,
          }),
        );

    return this.db.transaction(async (tx) => {
      const [created] = await tx
        .insert(payments)
        .values({
          paymentId: randomUUID(),
          orderId: request.orderId,
          customerId: request.customerId,
          status: outcome.approved ? "AUTHORIZED" : "DECLINED",
          currency: request.amount.currency,
          amountNanos: request.amount.nanos,
          paymentMethodId: method.paymentMethodId,
          declineReason: outcome.approved ? null : outcome.decline,
          authorizationReference: outcome.reference,
        })
        .onConflictDoNothing({ target: payments.orderId })
        .returning();
      if (!created) {
        // A concurrent first attempt for the order won; the processor gave both the same answer.
        const winner = await this.viewWhere(tx, eq(payments.orderId, request.orderId));
        if (!winner) throw new Error(`payment of order ${request.orderId} vanished`);
        return this.sameAuthorization(winner, request);
      }
      if (outcome.approved) {
        await this.appendLedger(tx, created, "AUTHORIZATION", created.amountNanos, outcome.reference, "", null);
      }
      const view = await this.viewOf(tx, created);
      await this.events.changed(tx, view, outcome.approved ? "authorized" : "declined");
      return view;
    });
  }

  /** Takes the authorized amount. Idempotent; FAILED_PRECONDITION unless AUTHORIZED or CAPTURED. */
  async capture(paymentId: string, caller: CallerLimits = {}): Promise<PaymentView> {
    return this.db.transaction(async (tx) => {
      const row = await this.lock(tx, eq(payments.paymentId, paymentId), `payment ${paymentId} not found`);
      if (row.status === "CAPTURED") return this.viewOf(tx, row);
      if (row.status !== "AUTHORIZED") {
        throw new FailedPreconditionError(
          `payment ${paymentId} is ${row.status}; only an AUTHORIZED payment can be captured`,
        );
      }
      return this.captureLocked(tx, row, caller);
    });
  }

  /**
   * Captures the payment of an order whose shipment left the warehouse, in the consumer's transaction.
   * Already captured (or refunded since) and payments that cannot be captured (voided, declined) are
   * left alone and reported, never retried; a processor failure throws, so the event is retried.
   */
  async captureForShipment(
    tx: PaymentTx,
    orderId: string,
  ): Promise<{ result: ShipmentCaptureResult; payment?: PaymentView }> {
    const [row] = await tx.select().from(payments).where(eq(payments.orderId, orderId)).for("update");
    if (!row) return { result: "no payment" };
    switch (row.status) {
      case "AUTHORIZED":
        return { result: "captured", payment: await this.captureLocked(tx, row, {}) };
      case "CAPTURED":
      case "PARTIALLY_REFUNDED":
      case "REFUNDED":
        return { result: "already captured", payment: await this.viewOf(tx, row) };
      case "VOIDED":
      case "DECLINED":
        return { result: "not capturable", payment: await this.viewOf(tx, row) };
    }
  }

  /** Cancels an authorization. Idempotent; FAILED_PRECONDITION once captured (or when declined). */
  async void(paymentId: string, reason: string, caller: CallerLimits = {}): Promise<PaymentView> {
    return this.db.transaction(async (tx) => {
      const row = await this.lock(tx, eq(payments.paymentId, paymentId), `payment ${paymentId} not found`);
      if (row.status === "VOIDED") return this.viewOf(tx, row);
      if (row.status !== "AUTHORIZED") {
        const hint = row.status === "DECLINED" ? "nothing is held" : "refund it instead";
        throw new FailedPreconditionError(`payment ${paymentId} is ${row.status}; it cannot be voided (${hint})`);
      }
      const receipt = await this.withProcessor("voided", caller, (signal) =>
        this.processor.void({
          idempotencyKey: `void:${paymentId}`,
          authorizationReference: row.authorizationReference,
          signal,
        }),
      );
      const updated = await this.update(tx, paymentId, { status: "VOIDED" });
      await this.appendLedger(tx, updated, "VOID", updated.amountNanos, receipt.reference, reason, null);
      const view = await this.viewOf(tx, updated);
      await this.events.changed(tx, view, "voided");
      return view;
    });
  }

  /**
   * Pays back part or all of what was captured. Idempotent by refund_id: the same id returns the
   * payment without refunding again (FAILED_PRECONDITION if it was used for another payment or
   * amount). FAILED_PRECONDITION unless CAPTURED or PARTIALLY_REFUNDED, or when the amount exceeds what
   * is left to refund.
   */
  async refund(request: RefundRequest, caller: CallerLimits = {}): Promise<PaymentView> {
    return this.db.transaction(async (tx) => {
      const row = await this.lock(
        tx,
        eq(payments.paymentId, request.paymentId),
        `payment ${request.paymentId} not found`,
      );
      const [earlier] = await tx.select().from(ledgerEntries).where(eq(ledgerEntries.refundId, request.refundId));
      if (earlier) {
        if (earlier.paymentId !== request.paymentId) {
          throw new FailedPreconditionError(`refund_id ${request.refundId} was used for another payment`);
        }
        if (earlier.currency !== request.amount.currency || earlier.amountNanos !== request.amount.nanos) {
          throw new FailedPreconditionError(
            `refund ${request.refundId} was made already with another amount ` +
              `(${money.formatAmount({ currency: earlier.currency, nanos: earlier.amountNanos })})`,
          );
        }
        return this.viewOf(tx, row);
      }
      if (row.status !== "CAPTURED" && row.status !== "PARTIALLY_REFUNDED") {
        throw new FailedPreconditionError(
          `payment ${request.paymentId} is ${row.status}; only a captured payment can be refunded`,
        );
      }
      if (request.amount.currency !== row.currency) {
        throw new InvalidArgumentError("amount.currency_code", `must be ${row.currency}, the currency of the payment`);
      }
      const refundable = refundableOf(row);
      if (request.amount.nanos > refundable.nanos) {
        throw new FailedPreconditionError(
          `amount: ${money.formatAmount(request.amount)} is more than the ${money.formatAmount(refundable)} ` +
            "that can still be refunded",
        );
      }
      const receipt = await this.withProcessor("refunded", caller, (signal) =>
        this.processor.refund({
          idempotencyKey: `refund:${request.refundId}`,
          authorizationReference: row.authorizationReference,
          amount: request.amount,
          signal,
        }),
      );
      const refundedNanos = row.refundedNanos + request.amount.nanos;
      const updated = await this.update(tx, row.paymentId, {
        refundedNanos,
        status: statusAfterRefund(row.capturedNanos, refundedNanos),
      });
      await this.appendLedger(
        tx,
        updated,
        "REFUND",
        request.amount.nanos,
        receipt.reference,
        request.reason,
        request.refundId,
      );
      const view = await this.viewOf(tx, updated);
      await this.events.changed(tx, view, "refunded");
      return view;
    });
  }

  /** The payment by id, or undefined. */
  findById(paymentId: string): Promise<PaymentView | undefined> {
    return this.viewWhere(this.db, eq(payments.paymentId, paymentId));
  }

  /** The payment of an order, or undefined. */
  findByOrder(orderId: string): Promise<PaymentView | undefined> {
    return this.viewWhere(this.db, eq(payments.orderId, orderId));
  }

  private sameAuthorization(existing: PaymentView, request: AuthorizationRequest): PaymentView {
    const mismatch = authorizationMismatch(existing, request);
    if (mismatch) {
      throw new FailedPreconditionError(
        `order ${request.orderId} has a payment already (${existing.paymentId}) for ${mismatch}; ` +
          "a payment cannot be changed — void it and place a new order",
      );
    }
    return existing;
  }

  private async captureLocked(tx: PaymentTx, row: PaymentRow, caller: CallerLimits): Promise<PaymentView> {
    const receipt = await this.withProcessor("captured", caller, (signal) =>
      this.processor.capture({
        idempotencyKey: `capture:${row.paymentId}`,
        authorizationReference: row.authorizationReference,
        amount: { currency: row.currency, nanos: row.amountNanos },
        signal,
      }),
    );
    const updated = await this.update(tx, row.paymentId, { status: "CAPTURED", capturedNanos: row.amountNanos });
    await this.appendLedger(tx, updated, "CAPTURE", updated.amountNanos, receipt.reference, "", null);
    const view = await this.viewOf(tx, updated);
    await this.events.changed(tx, view, "captured");
    return view;
  }

  /**
   * Runs a processor call with a time limit: PROCESSOR_TIMEOUT_MS, or less when the caller's deadline
   * is nearer. The limit holds even for a processor that ignores its abort signal. Timeouts and
   * transient processor failures become UNAVAILABLE saying that nothing was done.
   */
  private async withProcessor<T>(
    nothingWas: string,
    caller: CallerLimits,
    run: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const remaining = caller.deadline ? caller.deadline.getTime() - Date.now() : Number.POSITIVE_INFINITY;
    const limitMs = Math.max(0, Math.min(this.options.processorTimeoutMs, remaining));
    const controller = new AbortController();
    const onCallerGone = () => controller.abort(new Error("the caller cancelled"));
    caller.signal?.addEventListener("abort", onCallerGone, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort(new Error("processor timeout"));
        reject(
          new UnavailableError(
            `the card processor did not answer within ${limitMs} ms; nothing was ${nothingWas}; retry later`,
          ),
        );
      }, limitMs);
    });
    try {
      return await Promise.race([run(controller.signal), timeout]);
    } catch (error) {
      if (error instanceof ProcessorUnavailableError) {
        throw new UnavailableError(
          `the card processor is unavailable (${error.message}); nothing was ${nothingWas}; retry later`,
        );
      }
      if (caller.signal?.aborted && !(error instanceof DomainError)) {
        throw new UnavailableError(
          `the call was cancelled while waiting for the card processor; nothing was ${nothingWas}`,
        );
      }
      throw error;
    } finally {
      clearTimeout(timer);
      caller.signal?.removeEventListener("abort", onCallerGone);
    }
  }

  private async lock(tx: PaymentTx, where: ReturnType<typeof eq>, notFound: string): Promise<PaymentRow> {
    const [row] = await tx.select().from(payments).where(where).for("update");
    if (!row) throw new NotFoundError(notFound);
    return row;
  }

  private async update(tx: PaymentTx, paymentId: string, change: Partial<PaymentRow>): Promise<PaymentRow> {
    const [row] = await tx
      .update(payments)
      .set({ ...change, updatedAt: sql`now()` })
      .where(eq(payments.paymentId, paymentId))
      .returning();
    return row as PaymentRow;
  }

  private async appendLedger(
    tx: PaymentTx,
    payment: PaymentRow,
    type: LedgerEntryTypeName,
    amountNanos: bigint,
    processorReference: string,
    reason: string,
    refundId: string | null,
  ): Promise<void> {
    await tx.insert(ledgerEntries).values({
      entryId: randomUUID(),
      paymentId: payment.paymentId,
      type,
      currency: payment.currency,
      amountNanos,
      processorReference,
      reason,
      refundId,
    });
  }

  private async viewWhere(db: Db<Schema> | PaymentTx, where: ReturnType<typeof eq>): Promise<PaymentView | undefined> {
    const [row] = await db.select().from(payments).where(where);
    return row ? this.viewOf(db, row) : undefined;
  }

  private async viewOf(db: Db<Schema> | PaymentTx, row: PaymentRow): Promise<PaymentView> {
    const [method] = await db
      .select()
      .from(paymentMethods)
      .where(eq(paymentMethods.paymentMethodId, row.paymentMethodId));
    const ledger = await db
      .select()
      .from(ledgerEntries)
      .where(eq(ledgerEntries.paymentId, row.paymentId))
      .orderBy(asc(ledgerEntries.sequence));
    return { ...row, method: method as PaymentMethodRow, ledger };
  }
}
