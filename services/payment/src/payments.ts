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
import { OneAtATime } from "./one-at-a-time";
import {
  type AuthorizationRequest,
  authorizationMismatch,
  captureStanding,
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

/** What became of a capture request (see {@link Payments.captureRequested}). */
export type CaptureResult = "captured" | "already captured" | "not capturable" | "no payment";

/**
 * Payments, their ledger and the card processor behind them.
 *
 * No database transaction is ever open while the card processor is called (the embedded PGlite has one
 * connection, and the simulator's memory writes outside the transaction; on Postgres a row lock held
 * across an external call is bad practice too). Every operation reads and checks the payment, calls
 * the processor with an idempotency key, then in a short transaction locks the row, checks it again
 * and records the result, its ledger entry and its event.
 *
 * Idempotency: an authorization is keyed by its order (unique order_id; the processor gets
 * "authorize:<order id>" as its idempotency key, so two racing first attempts get one hold); capture,
 * void and refund send "capture:/void:<payment id>" and "refund:<refund id>", so repeating the call is
 * safe, and the re-check in the transaction turns a repeat that lost the race into the current payment
 * (and a conflicting change into FAILED_PRECONDITION). In one process the operations on one payment
 * run one after another ({@link OneAtATime}). A processor that does not answer in time
 * (PROCESSOR_TIMEOUT_MS), or fails transiently, is UNAVAILABLE and nothing is recorded.
 */
export class Payments {
  private readonly oneAtATime = new OneAtATime();

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
    return this.oneAtATime.run(paymentId, async () => {
      const row = await this.row(paymentId);
      if (row.status === "CAPTURED") return this.viewOf(this.db, row);
      if (row.status !== "AUTHORIZED") {
        throw new FailedPreconditionError(
          `payment ${paymentId} is ${row.status}; only an AUTHORIZED payment can be captured`,
        );
      }
      return (await this.captureAuthorized(row, caller)).payment;
    });
  }

  /**
   * Carries out a capture request of the capture worker (recorded when the order's shipment was
   * dispatched): "captured" now, "already captured" (refunds since included — nothing to do), "not
   * capturable" (voided or declined since), or "no payment". Throws when the processor fails or does
   * not answer in time (UNAVAILABLE): the worker tries again later.
   */
  async captureRequested(paymentId: string): Promise<{ result: CaptureResult; payment?: PaymentView }> {
    return this.oneAtATime.run(paymentId, async () => {
      const [row] = await this.db.select().from(payments).where(eq(payments.paymentId, paymentId));
      if (!row) return { result: "no payment" };
      const standing = captureStanding(row.status);
      if (standing === "captured") return { result: "already captured", payment: await this.viewOf(this.db, row) };
      if (standing === "not capturable") {
        return { result: "not capturable", payment: await this.viewOf(this.db, row) };
      }
      return this.captureAuthorized(row, {});
    });
  }

  /** Cancels an authorization. Idempotent; FAILED_PRECONDITION once captured (or when declined). */
  async void(paymentId: string, reason: string, caller: CallerLimits = {}): Promise<PaymentView> {
    return this.oneAtATime.run(paymentId, async () => {
      const row = await this.row(paymentId);
      if (row.status === "VOIDED") return this.viewOf(this.db, row);
      if (row.status !== "AUTHORIZED") throw notVoidable(row);
      const receipt = await this.withProcessor("voided", caller, (signal) =>
        this.processor.void({
          idempotencyKey: `void:${paymentId}`,
          authorizationReference: row.authorizationReference,
          signal,
        }),
      );
      return this.db.transaction(async (tx) => {
        const current = await this.lock(tx, paymentId);
        // An identical void (another replica) recorded it meanwhile: the processor gave both one receipt.
        if (current.status === "VOIDED") return this.viewOf(tx, current);
        if (current.status !== "AUTHORIZED") throw notVoidable(current, "while the void was under way");
        const updated = await this.update(tx, paymentId, { status: "VOIDED" });
        await this.appendLedger(tx, updated, "VOID", updated.amountNanos, receipt.reference, reason, null);
        const view = await this.viewOf(tx, updated);
        await this.events.changed(tx, view, "voided");
        return view;
      });
    });
  }

  /**
   * Pays back part or all of what was captured. Idempotent by refund_id: the same id returns the
   * payment without refunding again (FAILED_PRECONDITION if it was used for another payment or
   * amount). FAILED_PRECONDITION unless CAPTURED or PARTIALLY_REFUNDED, or when the amount exceeds what
   * is left to refund.
   */
  async refund(request: RefundRequest, caller: CallerLimits = {}): Promise<PaymentView> {
    return this.oneAtATime.run(request.paymentId, async () => {
      const row = await this.row(request.paymentId);
      if (await this.refundMade(this.db, request)) return this.viewOf(this.db, row);
      checkRefund(row, request);
      const receipt = await this.withProcessor("refunded", caller, (signal) =>
        this.processor.refund({
          idempotencyKey: `refund:${request.refundId}`,
          authorizationReference: row.authorizationReference,
          amount: request.amount,
          signal,
        }),
      );
      return this.db.transaction(async (tx) => {
        const current = await this.lock(tx, request.paymentId);
        // An identical refund (another replica) recorded it meanwhile: the processor gave both one receipt.
        if (await this.refundMade(tx, request)) return this.viewOf(tx, current);
        checkRefund(current, request, "while the refund was under way");
        const refundedNanos = current.refundedNanos + request.amount.nanos;
        const updated = await this.update(tx, current.paymentId, {
          refundedNanos,
          status: statusAfterRefund(current.capturedNanos, refundedNanos),
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

  /**
   * Captures an AUTHORIZED payment: the processor first, with no transaction open (key
   * "capture:<payment id>", so a repeat is safe), then in a short transaction that locks the row and
   * checks it again: captured meanwhile by an identical request → "already captured"; voided meanwhile
   * → FAILED_PRECONDITION.
   */
  private async captureAuthorized(
    row: PaymentRow,
    caller: CallerLimits,
  ): Promise<{ result: "captured" | "already captured"; payment: PaymentView }> {
    const receipt = await this.withProcessor("captured", caller, (signal) =>
      this.processor.capture({
        idempotencyKey: `capture:${row.paymentId}`,
        authorizationReference: row.authorizationReference,
        amount: { currency: row.currency, nanos: row.amountNanos },
        signal,
      }),
    );
    return this.db.transaction(async (tx) => {
      const current = await this.lock(tx, row.paymentId);
      const standing = captureStanding(current.status);
      if (standing === "captured")
        return { result: "already captured" as const, payment: await this.viewOf(tx, current) };
      if (standing === "not capturable") {
        throw new FailedPreconditionError(
          `payment ${row.paymentId} became ${current.status} while the capture was under way; ` +
            "only an AUTHORIZED payment can be captured",
        );
      }
      const updated = await this.update(tx, row.paymentId, { status: "CAPTURED", capturedNanos: current.amountNanos });
      await this.appendLedger(tx, updated, "CAPTURE", updated.amountNanos, receipt.reference, "", null);
      const view = await this.viewOf(tx, updated);
      await this.events.changed(tx, view, "captured");
      return { result: "captured" as const, payment: view };
    });
  }

  /**
   * Whether the refund `request.refundId` was made already (true: nothing to do), checked against
   * the ledger; FAILED_PRECONDITION when the id was used for another payment or amount.
   */
  private async refundMade(db: Db<Schema> | PaymentTx, request: RefundRequest): Promise<boolean> {
    const [earlier] = await db.select().from(ledgerEntries).where(eq(ledgerEntries.refundId, request.refundId));
    if (!earlier) return false;
    if (earlier.paymentId !== request.paymentId) {
      throw new FailedPreconditionError(`refund_id ${request.refundId} was used for another payment`);
    }
    if (earlier.currency !== request.amount.currency || earlier.amountNanos !== request.amount.nanos) {
      throw new FailedPreconditionError(
        `refund ${request.refundId} was made already with another amount ` +
          `(${money.formatAmount({ currency: earlier.currency, nanos: earlier.amountNanos })})`,
      );
    }
    return true;
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

  /** The payment's row, read without a transaction; NOT_FOUND when there is none. */
  private async row(paymentId: string): Promise<PaymentRow> {
    const [row] = await this.db.select().from(payments).where(eq(payments.paymentId, paymentId));
    if (!row) throw new NotFoundError(`payment ${paymentId} not found`);
    return row;
  }

  /** Locks the payment's row for the rest of the transaction (payments are never deleted). */
  private async lock(tx: PaymentTx, paymentId: string): Promise<PaymentRow> {
    const [row] = await tx.select().from(payments).where(eq(payments.paymentId, paymentId)).for("update");
    if (!row) throw new Error(`payment ${paymentId} vanished`);
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

/** FAILED_PRECONDITION for a void of a payment that is not AUTHORIZED (`when`: it changed meanwhile). */
function notVoidable(row: PaymentRow, when?: string): FailedPreconditionError {
  const hint = row.status === "DECLINED" ? "nothing is held" : "refund it instead";
  const is = when ? `became ${row.status} ${when}` : `is ${row.status}`;
  return new FailedPreconditionError(`payment ${row.paymentId} ${is}; it cannot be voided (${hint})`);
}

/**
 * Checks a refund against the payment: captured, same currency, within what is left to refund
 * (`when`: said when the payment changed while the refund was under way).
 */
function checkRefund(row: PaymentRow, request: RefundRequest, when?: string): void {
  const meanwhile = when ? ` (it changed ${when})` : "";
  if (row.status !== "CAPTURED" && row.status !== "PARTIALLY_REFUNDED") {
    throw new FailedPreconditionError(
      `payment ${request.paymentId} is ${row.status}; only a captured payment can be refunded${meanwhile}`,
    );
  }
  if (request.amount.currency !== row.currency) {
    throw new InvalidArgumentError("amount.currency_code", `must be ${row.currency}, the currency of the payment`);
  }
  const refundable = refundableOf(row);
  if (request.amount.nanos > refundable.nanos) {
    throw new FailedPreconditionError(
      `amount: ${money.formatAmount(request.amount)} is more than the ${money.formatAmount(refundable)} ` +
        `that can still be refunded${meanwhile}`,
    );
  }
}
