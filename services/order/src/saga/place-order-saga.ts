import type { CompensationOutcome, OrderStatusName, SagaStep } from "../db/schema";

/**
 * The order saga as a pure state machine: no database, no network. The executor loads a saga's
 * {@link SagaState}, asks {@link beforeStep} whether to run its step, runs it, and hands the
 * {@link StepOutcome} to {@link afterStep}; the {@link SagaDecision} it gets back is written in one
 * transaction (saga row, order status, history, outbox event).
 *
 * Forward:      RESERVE_STOCK → AUTHORIZE_PAYMENT → COMMIT_STOCK → DONE (order CONFIRMED)
 * Rejections:   out of stock (reserve refused) → DONE (REJECTED, nothing held)
 *               declined / reservation gone / deadline passed → compensate → DONE (REJECTED)
 * Cancellation: cancel requested (PENDING) → compensate → DONE (CANCELLED)
 *               CancelOrder on a CONFIRMED order → CANCEL_SHIPMENT → compensate → DONE (CANCELLED);
 *               shipping refuses because the parcel has left → DONE (SHIPPED), nothing given back
 * Compensation: VOID_PAYMENT (if a payment may be held) → RELEASE_STOCK (if stock may be held) → DONE
 *               a compensation step refused, or failing maxCompensationAttempts times → parked (NEEDS_ATTENTION)
 */

/** What the state machine needs of a saga row. */
export interface SagaState {
  readonly step: SagaStep;
  /** Set while compensating: the status the order ends in. */
  readonly compensation: CompensationOutcome | null;
  readonly compensationReason: string;
  /** A reservation may exist (ReserveStock was called and not known to have failed). */
  readonly stockMayBeHeld: boolean;
  /** An authorization may exist (AuthorizePayment was called and not known to be declined). */
  readonly paymentMayBeHeld: boolean;
  readonly cancelRequested: boolean;
  readonly cancelReason: string;
  readonly parked: boolean;
  /** Failed attempts of the current step. */
  readonly attempts: number;
  readonly lastError: string;
}

/** How a step call ended. */
export type StepOutcome =
  /** The step did what it should. `paymentId` comes with an authorization. */
  | { readonly kind: "done"; readonly paymentId?: string }
  /**
   * The downstream answered and said no, for good: out of stock, declined, reservation expired — or,
   * for a compensation step, that it cannot be undone automatically. `shipped` comes with shipping's
   * refusal to stop a shipment that has left (CANCEL_SHIPMENT).
   */
  | { readonly kind: "refused"; readonly reason: string; readonly paymentId?: string; readonly shipped?: boolean }
  /** The call failed in a way that may pass: unavailable, timed out, circuit open. */
  | { readonly kind: "failed"; readonly error: string };

/** Timings and limits of the saga (SAGA_* configuration). */
export interface SagaSettings {
  /** First retry delay of a failed step; doubles per attempt. */
  readonly retryInitialMs: number;
  /** Longest retry delay. */
  readonly retryMaxMs: number;
  /** Failed attempts of a compensation step before the order is parked in NEEDS_ATTENTION. */
  readonly maxCompensationAttempts: number;
}

/** What to change for an order when a saga transition happens. */
export interface OrderChange {
  readonly status: OrderStatusName;
  readonly reason: string;
}

/** The result of a transition, written in one transaction. */
export interface SagaDecision {
  /** The saga after the transition. */
  readonly state: SagaState;
  /** When to run the next step: 0 = right away (the executor goes on), undefined = nothing to run. */
  readonly runInMs: number | undefined;
  /** The order's new status, when it changes (with history and an event). */
  readonly order?: OrderChange;
  /** The payment id learned from AuthorizePayment. */
  readonly paymentId?: string;
  /** One line for the saga log. */
  readonly log: { readonly step: SagaStep; readonly outcome: string; readonly detail: string };
}

const forwardSteps: ReadonlySet<SagaStep> = new Set(["RESERVE_STOCK", "AUTHORIZE_PAYMENT", "COMMIT_STOCK"]);

/** True for the steps that move an order towards CONFIRMED (as opposed to compensation steps). */
export function isForwardStep(step: SagaStep): boolean {
  return forwardSteps.has(step);
}

/** The saga of a freshly placed order. */
export function initialSagaState(): SagaState {
  return {
    step: "RESERVE_STOCK",
    compensation: null,
    compensationReason: "",
    stockMayBeHeld: false,
    paymentMayBeHeld: false,
    cancelRequested: false,
    cancelReason: "",
    parked: false,
    attempts: 0,
    lastError: "",
  };
}

/**
 * Delay before retry number `attempts` of a failed step: retryInitialMs × 2^(attempts−1), capped at
 * retryMaxMs, with ±20 % jitter (`random` in [0, 1)) so replicas do not retry in lockstep.
 */
export function retryDelayMs(attempts: number, settings: SagaSettings, random: number = Math.random()): number {
  const base = Math.min(settings.retryMaxMs, settings.retryInitialMs * 2 ** Math.max(0, attempts - 1));
  return Math.max(1, Math.round(base * (0.8 + random * 0.4)));
}

/** The first compensation step for what may be held, or DONE when nothing is. */
function nextCompensationStep(state: Pick<SagaState, "stockMayBeHeld" | "paymentMayBeHeld">): SagaStep {
  if (state.paymentMayBeHeld) return "VOID_PAYMENT";
  if (state.stockMayBeHeld) return "RELEASE_STOCK";
  return "DONE";
}

function fresh(state: SagaState, changes: Partial<SagaState>): SagaState {
  return { ...state, attempts: 0, lastError: "", ...changes };
}

/**
 * Starts giving back what the saga may hold, ending in `outcome` with `reason`. When nothing is held
 * the order gets its final status at once.
 */
export function startCompensation(
  state: SagaState,
  outcome: CompensationOutcome,
  reason: string,
  log: { step: SagaStep; outcome: string; detail: string },
): SagaDecision {
  const next = fresh(state, { compensation: outcome, compensationReason: reason, parked: false });
  const step = nextCompensationStep(next);
  if (step === "DONE") {
    return { state: { ...next, step }, runInMs: undefined, order: { status: outcome, reason }, log };
  }
  return { state: { ...next, step }, runInMs: 0, log };
}

/**
 * Decides, before a claimed saga's step runs, whether it must change course instead: a forward step
 * of a saga whose cancellation was requested compensates towards CANCELLED; one past its deadline
 * compensates towards REJECTED. Undefined means: run the step.
 */
export function beforeStep(
  state: SagaState,
  situation: { pastDeadline: boolean; deadlineMs: number },
): SagaDecision | undefined {
  if (!isForwardStep(state.step)) return undefined;
  if (state.cancelRequested) {
    return startCompensation(state, "CANCELLED", state.cancelReason, {
      step: state.step,
      outcome: "cancel-requested",
      detail: state.cancelReason,
    });
  }
  if (situation.pastDeadline) {
    const seconds = Math.round(situation.deadlineMs / 100) / 10;
    const what = describeStep(state.step);
    const reason = `could not ${what} within ${seconds} s${state.lastError ? ` (${state.lastError})` : ""}`;
    return startCompensation(state, "REJECTED", reason, {
      step: state.step,
      outcome: "deadline-passed",
      detail: reason,
    });
  }
  return undefined;
}

function describeStep(step: SagaStep): string {
  switch (step) {
    case "RESERVE_STOCK":
      return "reserve the stock";
    case "AUTHORIZE_PAYMENT":
      return "authorize the payment";
    case "COMMIT_STOCK":
      return "commit the stock reservation";
    case "CANCEL_SHIPMENT":
      return "stop the shipment";
    case "VOID_PAYMENT":
      return "void the payment";
    case "RELEASE_STOCK":
      return "release the stock";
    case "DONE":
      return "finish";
  }
}

/** Marks a step as about to run: what may be held once the call was made (set before calling). */
export function markCalling(state: SagaState): SagaState {
  if (state.step === "RESERVE_STOCK") return { ...state, stockMayBeHeld: true };
  if (state.step === "AUTHORIZE_PAYMENT") return { ...state, paymentMayBeHeld: true };
  return state;
}

function retryOrPark(state: SagaState, error: string, settings: SagaSettings): SagaDecision {
  const attempts = state.attempts + 1;
  const compensating = !isForwardStep(state.step);
  if (compensating && attempts >= settings.maxCompensationAttempts) {
    return park(
      { ...state, attempts, lastError: error },
      `${describeStep(state.step)} failed ${attempts} times: ${error}`,
    );
  }
  const delay = retryDelayMs(attempts, settings);
  return {
    state: { ...state, attempts, lastError: error },
    runInMs: delay,
    log: { step: state.step, outcome: "retry", detail: `attempt ${attempts} failed: ${error}; next in ${delay} ms` },
  };
}

function park(state: SagaState, problem: string): SagaDecision {
  const reason = state.compensationReason ? `${state.compensationReason}; then ${problem}` : problem;
  return {
    state: { ...state, parked: true },
    runInMs: undefined,
    order: { status: "NEEDS_ATTENTION", reason },
    log: { step: state.step, outcome: "parked", detail: problem },
  };
}

/** Moves on after a compensation step succeeded: the next one, or the final status. */
function compensationStepDone(state: SagaState, changes: Partial<SagaState>): SagaDecision {
  const next = fresh(state, changes);
  const step = nextCompensationStep(next);
  const log = { step: state.step, outcome: "done", detail: "" };
  if (step === "DONE") {
    const outcome = next.compensation ?? "REJECTED";
    return {
      state: { ...next, step },
      runInMs: undefined,
      order: { status: outcome, reason: next.compensationReason },
      log,
    };
  }
  return { state: { ...next, step }, runInMs: 0, log };
}

/**
 * Ends a cancellation that shipping refused because the parcel had left before it got there: nothing
 * is given back — the payment is captured on the dispatch, the stock left with the parcel — and the
 * order is SHIPPED, with shipping's answer (shipment, tracking number) as the reason.
 */
function cancellationTooLate(state: SagaState, shippingAnswer: string, log: SagaDecision["log"]): SagaDecision {
  return {
    state: fresh(state, { step: "DONE", compensation: null, compensationReason: "", parked: false }),
    runInMs: undefined,
    order: { status: "SHIPPED", reason: `the cancellation came too late: ${shippingAnswer}` },
    log,
  };
}

/** Goes on with `step` unless a cancellation was requested meanwhile. */
function forward(state: SagaState, step: SagaStep, log: SagaDecision["log"], paymentId?: string): SagaDecision {
  if (state.cancelRequested) {
    const decision = startCompensation(state, "CANCELLED", state.cancelReason, log);
    return paymentId === undefined ? decision : { ...decision, paymentId };
  }
  return { state: fresh(state, { step }), runInMs: 0, log, ...(paymentId === undefined ? {} : { paymentId }) };
}

/** Decides what follows a step's outcome. `state` is the saga as it was when the step ran. */
export function afterStep(state: SagaState, outcome: StepOutcome, settings: SagaSettings): SagaDecision {
  if (outcome.kind === "failed") return retryOrPark(state, outcome.error, settings);
  const log = {
    step: state.step,
    outcome: outcome.kind,
    detail: outcome.kind === "refused" ? outcome.reason : (outcome.paymentId ?? ""),
  };
  switch (state.step) {
    case "RESERVE_STOCK":
      if (outcome.kind === "done") return forward({ ...state, stockMayBeHeld: true }, "AUTHORIZE_PAYMENT", log);
      // All lines or none: a refused reservation holds nothing.
      return {
        state: fresh(state, {
          step: "DONE",
          stockMayBeHeld: false,
          compensation: "REJECTED",
          compensationReason: outcome.reason,
        }),
        runInMs: undefined,
        order: { status: "REJECTED", reason: outcome.reason },
        log,
      };
    case "AUTHORIZE_PAYMENT":
      if (outcome.kind === "done") {
        return forward({ ...state, paymentMayBeHeld: true }, "COMMIT_STOCK", log, outcome.paymentId);
      }
      {
        const decision = startCompensation({ ...state, paymentMayBeHeld: false }, "REJECTED", outcome.reason, log);
        return outcome.paymentId === undefined ? decision : { ...decision, paymentId: outcome.paymentId };
      }
    case "COMMIT_STOCK":
      if (outcome.kind === "done") {
        if (state.cancelRequested) return startCompensation(state, "CANCELLED", state.cancelReason, log);
        return {
          state: fresh(state, { step: "DONE" }),
          runInMs: undefined,
          order: { status: "CONFIRMED", reason: "" },
          log,
        };
      }
      // The reservation is gone (expired or released): nothing to release, the payment to void.
      return startCompensation({ ...state, stockMayBeHeld: false }, "REJECTED", outcome.reason, log);
    case "CANCEL_SHIPMENT":
      if (outcome.kind === "done") return compensationStepDone(state, {});
      if (outcome.shipped) return cancellationTooLate(state, outcome.reason, log);
      return park(state, `could not stop the shipment: ${outcome.reason}`);
    case "VOID_PAYMENT":
      if (outcome.kind === "done") return compensationStepDone(state, { paymentMayBeHeld: false });
      return park(state, `could not void the payment: ${outcome.reason}`);
    case "RELEASE_STOCK":
      if (outcome.kind === "done") return compensationStepDone(state, { stockMayBeHeld: false });
      return park(state, `could not release the stock: ${outcome.reason}`);
    case "DONE":
      throw new Error("a finished saga has no step to run");
  }
}

/** What CancelOrder does to a saga, by the order's status. */
export type CancelPlan =
  /** Already cancelled: answer with the order as it is. */
  | { readonly kind: "already-cancelled" }
  /** Not allowed: FAILED_PRECONDITION with this message. */
  | { readonly kind: "refused"; readonly message: string }
  /** A cancellation is under way already: wait for it. */
  | { readonly kind: "in-progress" }
  /** Write this saga state and run it now. */
  | { readonly kind: "start"; readonly decision: SagaDecision };

/**
 * Plans CancelOrder for an order in `status` with saga `state`. A PENDING order's saga is flagged
 * (the executor compensates at its next step, never in the middle of one). A CONFIRMED order's
 * finished saga compensates right away, but shipping first: its shipment may be dispatched at any
 * moment (before this service hears of it), so CANCEL_SHIPMENT asks shipping to stop it, and only when
 * shipping agrees are the payment voided and the committed stock released.
 */
export function planCancel(status: OrderStatusName, state: SagaState, reason: string): CancelPlan {
  switch (status) {
    case "CANCELLED":
      return { kind: "already-cancelled" };
    case "SHIPPED":
      return { kind: "refused", message: "the order has shipped and can no longer be cancelled" };
    case "REJECTED":
      return { kind: "refused", message: "the order was rejected; there is nothing to cancel" };
    case "NEEDS_ATTENTION":
      return {
        kind: "refused",
        message: "the order needs an operator (a compensation kept failing); it cannot be cancelled now",
      };
    case "PENDING":
      if (state.cancelRequested || state.compensation !== null) return { kind: "in-progress" };
      return {
        kind: "start",
        decision: {
          state: { ...state, cancelRequested: true, cancelReason: reason },
          runInMs: 0,
          log: { step: state.step, outcome: "cancel-requested", detail: reason },
        },
      };
    case "CONFIRMED":
      if (state.compensation !== null) return { kind: "in-progress" };
      return {
        kind: "start",
        decision: {
          state: fresh(state, {
            step: "CANCEL_SHIPMENT",
            compensation: "CANCELLED",
            compensationReason: reason,
            cancelRequested: true,
            cancelReason: reason,
            stockMayBeHeld: true,
            paymentMayBeHeld: true,
            parked: false,
          }),
          runInMs: 0,
          log: { step: state.step, outcome: "cancel-requested", detail: reason },
        },
      };
  }
}
