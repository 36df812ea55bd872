import { randomUUID } from "node:crypto";
import { type Db, notifyAfterCommit, resultRows } from "@agora/service-kit";
import { and, asc, eq, inArray, isNull, lt, lte, ne, or, sql } from "drizzle-orm";
import { orderLines, orderSagaLog, orderSagas, orders, type SagaRow, type SagaStep } from "../db/schema";
import { millis, type OrderSchema, type OrderStore, type OrderTx, sagaDueChannel } from "../order-store";
import {
  afterStep,
  beforeStep,
  type CancelPlan,
  markCalling,
  planCancel,
  type SagaDecision,
  type SagaSettings,
  type SagaState,
  type StepOutcome,
} from "./place-order-saga";
import { type SagaOrder, sagaOrderOf } from "./saga-steps";

const forwardSteps: SagaStep[] = ["RESERVE_STOCK", "AUTHORIZE_PAYMENT", "COMMIT_STOCK"];

/** A saga an executor claimed: run it while the lease holds. */
export interface ClaimedSaga {
  readonly orderId: string;
  readonly leaseToken: string;
  /** True when another executor's lease ran out (it crashed or hung): the saga is taken over. */
  readonly takenOver: boolean;
  readonly correlationId: string;
  readonly traceHeaders: Record<string, string>;
}

/** What {@link SagaStore.begin} found. */
export type BeginResult =
  /** The lease is gone (taken over) or the saga has nothing to run: stop. */
  | { readonly kind: "stop" }
  /** The saga changed course without a call (deadline passed, cancel requested); written. */
  | { readonly kind: "decided"; readonly decision: SagaDecision }
  /** Run this step for this order. */
  | { readonly kind: "run"; readonly step: SagaStep; readonly order: SagaOrder };

/** A step to run now, its intent already recorded under the lease (what {@link SagaStore.begin} returns to run). */
export type StepToRun = Extract<BeginResult, { kind: "run" }>;

/**
 * What {@link SagaStore.finish} wrote. `next` is the step that follows at once, begun in the same
 * transaction (its intent recorded), so the executor calls it without another round trip to begin it.
 */
export type FinishResult =
  | { readonly kind: "stop" }
  | { readonly kind: "decided"; readonly decision: SagaDecision; readonly next?: StepToRun };

/** How a transition treats the executor's lease. */
type LeaseMode = "extend" | "release" | "untouched";

/** The state-machine view of a saga row. */
export function stateOf(row: SagaRow): SagaState {
  return {
    step: row.step,
    compensation: row.compensation,
    compensationReason: row.compensationReason,
    stockMayBeHeld: row.stockMayBeHeld,
    paymentMayBeHeld: row.paymentMayBeHeld,
    cancelRequested: row.cancelRequested,
    cancelReason: row.cancelReason,
    parked: row.parked,
    attempts: row.attempts,
    lastError: row.lastError,
  };
}

/** A parked saga as the operator tool lists it. */
export interface ParkedSaga {
  readonly orderId: string;
  readonly step: SagaStep;
  readonly attempts: number;
  readonly lastError: string;
  readonly compensation: string | null;
  readonly updatedAt: Date;
}

/**
 * Saga persistence. Executors claim due sagas with FOR UPDATE SKIP LOCKED and a lease; every
 * transition re-reads the row under a row lock, checks the lease is still this executor's, decides
 * with the pure state machine and writes saga state, order status, history, saga log and outbox
 * event in one transaction.
 */
export class SagaStore {
  constructor(
    private readonly db: Db<OrderSchema>,
    private readonly orders: OrderStore,
    private readonly options: { leaseMs: number; settings: SagaSettings },
  ) {}

  /** How long a claim (or a lease taken at placement) holds without being extended. */
  get leaseMs(): number {
    return this.options.leaseMs;
  }

  /** Claims up to `limit` sagas that are due (or whose executor's lease ran out). */
  async claimDue(limit: number): Promise<ClaimedSaga[]> {
    if (limit <= 0) return [];
    const leaseToken = randomUUID();
    return this.db.transaction(async (tx) => {
      const due = await tx
        .select({ orderId: orderSagas.orderId, previousLease: orderSagas.leaseToken })
        .from(orderSagas)
        .where(
          and(
            ne(orderSagas.step, "DONE"),
            eq(orderSagas.parked, false),
            or(
              lte(orderSagas.nextAttemptAt, sql`now()`),
              and(inArray(orderSagas.step, forwardSteps), lte(orderSagas.deadlineAt, sql`now()`)),
            ),
            or(isNull(orderSagas.leasedUntil), lt(orderSagas.leasedUntil, sql`now()`)),
          ),
        )
        .orderBy(asc(orderSagas.nextAttemptAt))
        .limit(limit)
        .for("update", { skipLocked: true });
      if (due.length === 0) return [];
      const claimed = await tx
        .update(orderSagas)
        .set({ leaseToken, leasedUntil: sql`now() + ${millis(this.options.leaseMs)}` })
        .where(
          inArray(
            orderSagas.orderId,
            due.map((row) => row.orderId),
          ),
        )
        .returning({
          orderId: orderSagas.orderId,
          correlationId: orderSagas.correlationId,
          traceHeaders: orderSagas.traceHeaders,
        });
      const takenOver = new Set(due.filter((row) => row.previousLease !== null).map((row) => row.orderId));
      const log = [...takenOver].map((orderId) => ({
        orderId,
        step: "-",
        outcome: "taken-over",
        detail: "the previous executor's lease ran out (crashed or hung); resuming",
      }));
      if (log.length > 0) await tx.insert(orderSagaLog).values(log);
      return claimed.map((row) => ({ ...row, leaseToken, takenOver: takenOver.has(row.orderId) }));
    });
  }

  private async lockLeased(tx: OrderTx, orderId: string, leaseToken: string) {
    const [row] = await tx
      .select({
        saga: orderSagas,
        pastDeadline: sql<boolean>`${orderSagas.deadlineAt} < now()`,
        deadlineMs: sql<number>`(extract(epoch from ${orderSagas.deadlineAt} - ${orderSagas.createdAt}) * 1000)::float8`,
      })
      .from(orderSagas)
      .where(and(eq(orderSagas.orderId, orderId), eq(orderSagas.leaseToken, leaseToken)))
      .for("update");
    return row;
  }

  /**
   * Starts the saga's next step under the lease: changes course when the deadline passed or a
   * cancellation was requested, otherwise records what the call may hold and returns what to call.
   */
  async begin(orderId: string, leaseToken: string): Promise<BeginResult> {
    return this.db.transaction(async (tx) => {
      const row = await this.lockLeased(tx, orderId, leaseToken);
      if (!row) return { kind: "stop" } as const;
      const state = stateOf(row.saga);
      if (state.step === "DONE" || state.parked) {
        await this.releaseLease(tx, orderId);
        return { kind: "stop" } as const;
      }
      const decision = beforeStep(state, {
        pastDeadline: row.pastDeadline,
        deadlineMs: Number(row.deadlineMs),
      });
      if (decision) {
        await this.apply(tx, orderId, decision, decision.runInMs === 0 ? "extend" : "release");
        return { kind: "decided", decision } as const;
      }
      const calling = markCalling(state);
      await tx
        .update(orderSagas)
        .set({
          stockMayBeHeld: calling.stockMayBeHeld,
          paymentMayBeHeld: calling.paymentMayBeHeld,
          leasedUntil: sql`now() + ${millis(this.options.leaseMs)}`,
          updatedAt: new Date(),
        })
        .where(eq(orderSagas.orderId, orderId));
      return { kind: "run", step: state.step, order: await this.sagaOrder(tx, orderId, state) } as const;
    });
  }

  /**
   * Records a step's outcome under the lease and moves the saga on. When the next step is due at once
   * and `order` (what the finished step ran with) is given, that step is begun in the same transaction
   * — its intent recorded as {@link begin} would — and returned as `next`: one transaction per step
   * instead of two. A next step that must change course first (deadline passed) is left to {@link begin}.
   */
  async finish(
    orderId: string,
    leaseToken: string,
    step: SagaStep,
    outcome: StepOutcome,
    order?: SagaOrder,
  ): Promise<FinishResult> {
    return this.db.transaction(async (tx) => {
      const row = await this.lockLeased(tx, orderId, leaseToken);
      if (!row || row.saga.step !== step) return { kind: "stop" } as const;
      // The row as it is now: a cancellation requested during the call is seen here.
      const decision = afterStep(stateOf(row.saga), outcome, this.options.settings);
      const goesOn =
        decision.runInMs === 0 &&
        order !== undefined &&
        beforeStep(decision.state, { pastDeadline: row.pastDeadline, deadlineMs: Number(row.deadlineMs) }) ===
          undefined;
      if (!goesOn) {
        await this.apply(tx, orderId, decision, decision.runInMs === 0 ? "extend" : "release");
        return { kind: "decided", decision } as const;
      }
      const calling = markCalling(decision.state);
      await this.apply(tx, orderId, { ...decision, state: calling }, "extend");
      const next: StepToRun = {
        kind: "run",
        step: calling.step,
        order: { ...order, compensationReason: calling.compensationReason },
      };
      return { kind: "decided", decision, next } as const;
    });
  }

  /** Gives up the lease without a transition (the executor is stopping). */
  async abandon(orderId: string, leaseToken: string): Promise<void> {
    await this.db
      .update(orderSagas)
      .set({ leaseToken: null, leasedUntil: null })
      .where(and(eq(orderSagas.orderId, orderId), eq(orderSagas.leaseToken, leaseToken)));
  }

  private async releaseLease(tx: OrderTx, orderId: string): Promise<void> {
    await tx.update(orderSagas).set({ leaseToken: null, leasedUntil: null }).where(eq(orderSagas.orderId, orderId));
  }

  /** Writes a decision: saga row, order status (history, event, NOTIFY), payment id, saga log. */
  private async apply(tx: OrderTx, orderId: string, decision: SagaDecision, lease: LeaseMode): Promise<void> {
    const { state } = decision;
    const runNow = decision.runInMs === 0;
    // Saga row, order and saga log are written together (pipelined): none reads what another writes.
    const writes: Promise<unknown>[] = [];
    const sagaWrite = tx
      .update(orderSagas)
      .set({
        step: state.step,
        compensation: state.compensation,
        compensationReason: state.compensationReason,
        stockMayBeHeld: state.stockMayBeHeld,
        paymentMayBeHeld: state.paymentMayBeHeld,
        cancelRequested: state.cancelRequested,
        cancelReason: state.cancelReason,
        parked: state.parked,
        attempts: state.attempts,
        lastError: state.lastError,
        nextAttemptAt: sql`now() + ${millis(decision.runInMs ?? 0)}`,
        ...(lease === "extend" ? { leasedUntil: sql`now() + ${millis(this.options.leaseMs)}` } : {}),
        ...(lease === "release" ? { leaseToken: null, leasedUntil: null } : {}),
        ...(state.step === "DONE" ? { completedAt: sql`now()` } : {}),
        updatedAt: new Date(),
      })
      .where(eq(orderSagas.orderId, orderId));
    writes.push(sagaWrite);
    if (decision.order) {
      writes.push(this.orders.changeStatus(tx, orderId, { ...decision.order, paymentId: decision.paymentId }));
    } else if (decision.paymentId) {
      writes.push(this.orders.setPaymentId(tx, orderId, decision.paymentId));
    }
    writes.push(
      tx.insert(orderSagaLog).values({ orderId, ...decision.log, detail: decision.log.detail.slice(0, 1000) }),
    );
    if (runNow && lease !== "extend") writes.push(notifyAfterCommit(tx, sagaDueChannel, orderId));
    await Promise.all(writes);
  }

  private async sagaOrder(tx: OrderTx, orderId: string, state: SagaState): Promise<SagaOrder> {
    const [order] = await tx.select().from(orders).where(eq(orders.orderId, orderId));
    if (!order) throw new Error(`saga without order ${orderId}`);
    const lines = await tx
      .select({ sku: orderLines.sku, quantity: orderLines.quantity })
      .from(orderLines)
      .where(eq(orderLines.orderId, orderId))
      .orderBy(asc(orderLines.lineNumber));
    return sagaOrderOf(order, lines, state.compensationReason);
  }

  /**
   * CancelOrder's write: plans the cancellation for the order's status and saga (row-locked) and
   * writes it. The lease of an executor in the middle of a step is left alone: it sees the request
   * when it records the step's outcome, so no compensation runs beside a call still in flight.
   */
  async requestCancel(orderId: string, reason: string): Promise<CancelPlan> {
    return this.db.transaction(async (tx) => {
      const [order] = await tx
        .select({ status: orders.status })
        .from(orders)
        .where(eq(orders.orderId, orderId))
        .for("update");
      const [saga] = await tx.select().from(orderSagas).where(eq(orderSagas.orderId, orderId)).for("update");
      if (!order || !saga) throw new Error(`order ${orderId} has no saga`);
      const plan = planCancel(order.status, stateOf(saga), reason);
      if (plan.kind === "start") await this.apply(tx, orderId, plan.decision, "untouched");
      return plan;
    });
  }

  /**
   * Resumes a parked saga (operator action for NEEDS_ATTENTION): its compensation step runs again
   * from attempt 0 at once. Returns false when the order's saga is not parked.
   */
  async resume(orderId: string, note = "resumed by an operator"): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const [saga] = await tx
        .select()
        .from(orderSagas)
        .where(and(eq(orderSagas.orderId, orderId), eq(orderSagas.parked, true)))
        .for("update");
      if (!saga) return false;
      await tx
        .update(orderSagas)
        .set({
          parked: false,
          attempts: 0,
          lastError: "",
          nextAttemptAt: sql`now()`,
          leaseToken: null,
          leasedUntil: null,
          updatedAt: new Date(),
        })
        .where(eq(orderSagas.orderId, orderId));
      await tx.insert(orderSagaLog).values({ orderId, step: saga.step, outcome: "resumed", detail: note });
      await notifyAfterCommit(tx, sagaDueChannel, orderId);
      return true;
    });
  }

  /** Parked sagas (orders in NEEDS_ATTENTION), oldest first. */
  async parked(): Promise<ParkedSaga[]> {
    return this.db
      .select({
        orderId: orderSagas.orderId,
        step: orderSagas.step,
        attempts: orderSagas.attempts,
        lastError: orderSagas.lastError,
        compensation: orderSagas.compensation,
        updatedAt: orderSagas.updatedAt,
      })
      .from(orderSagas)
      .where(eq(orderSagas.parked, true))
      .orderBy(asc(orderSagas.updatedAt));
  }

  /**
   * Milliseconds until the next saga is due — its retry time, or its deadline for a forward step, but
   * not before a running executor's lease ends — (0 when one is due now), or undefined when none waits.
   */
  async nextDueInMs(): Promise<number | undefined> {
    const rows = await this.db.execute(sql`
      select ceil(extract(epoch from min(greatest(
               case when step in ('RESERVE_STOCK', 'AUTHORIZE_PAYMENT', 'COMMIT_STOCK')
                    then least(next_attempt_at, deadline_at) else next_attempt_at end,
               coalesce(leased_until, '-infinity'::timestamptz))) - now()) * 1000)::float8 as ms
      from order_sagas where step <> 'DONE' and not parked`);
    const [row] = resultRows<{ ms: number | null }>(rows);
    if (row?.ms === null || row?.ms === undefined) return undefined;
    return Math.max(0, Number(row.ms));
  }

  /** Seconds since the order's saga started. */
  async ageSeconds(orderId: string): Promise<number> {
    const [row] = await this.db
      .select({ age: sql<number>`extract(epoch from now() - ${orderSagas.createdAt})::float8` })
      .from(orderSagas)
      .where(eq(orderSagas.orderId, orderId));
    return Number(row?.age ?? 0);
  }

  /** Counts for the metrics: sagas running, stuck (lease ran out), and parked. */
  async counts(): Promise<{ active: number; stuck: number; parked: number }> {
    const [row] = await this.db
      .select({
        active: sql<number>`count(*) filter (where ${orderSagas.step} <> 'DONE' and not ${orderSagas.parked})::int`,
        stuck: sql<number>`count(*) filter (where ${orderSagas.step} <> 'DONE' and not ${orderSagas.parked} and ${orderSagas.leasedUntil} < now())::int`,
        parked: sql<number>`count(*) filter (where ${orderSagas.parked})::int`,
      })
      .from(orderSagas);
    return { active: Number(row?.active ?? 0), stuck: Number(row?.stuck ?? 0), parked: Number(row?.parked ?? 0) };
  }
}
