import type { OrderStatusName } from "../src/db/schema";
import {
  afterStep,
  beforeStep,
  initialSagaState,
  markCalling,
  planCancel,
  retryDelayMs,
  type SagaDecision,
  type SagaSettings,
  type SagaState,
  type StepOutcome,
} from "../src/saga/place-order-saga";

// The saga as a pure state machine: every path from PENDING to CONFIRMED, REJECTED, CANCELLED or
// NEEDS_ATTENTION, driven step by step the way the executor drives it (markCalling, then afterStep).

const settings: SagaSettings = { retryInitialMs: 100, retryMaxMs: 1000, maxCompensationAttempts: 3 };
const done: StepOutcome = { kind: "done" };
const unavailable: StepOutcome = { kind: "failed", error: "UNAVAILABLE: connection refused" };

/** Runs the current step with `outcome` the way the executor does: mark, call, decide. */
function run(state: SagaState, outcome: StepOutcome): SagaDecision {
  return afterStep(markCalling(state), outcome, settings);
}

function drive(outcomes: StepOutcome[]): { decisions: SagaDecision[]; final: SagaDecision } {
  let state = initialSagaState();
  const decisions: SagaDecision[] = [];
  for (const outcome of outcomes) {
    const decision = run(state, outcome);
    decisions.push(decision);
    state = decision.state;
  }
  return { decisions, final: decisions.at(-1) as SagaDecision };
}

describe("the order saga state machine", () => {
  it("reserves, authorizes, commits and confirms, running each next step at once", () => {
    const { decisions, final } = drive([done, { kind: "done", paymentId: "pay-1" }, done]);
    expect(decisions.map((decision) => decision.state.step)).toEqual(["AUTHORIZE_PAYMENT", "COMMIT_STOCK", "DONE"]);
    expect(decisions.map((decision) => decision.runInMs)).toEqual([0, 0, undefined]);
    expect(decisions[1]?.paymentId).toBe("pay-1");
    expect(decisions.slice(0, 2).every((decision) => decision.order === undefined)).toBe(true);
    expect(final.order).toEqual({ status: "CONFIRMED", reason: "" });
    expect(final.state).toMatchObject({ stockMayBeHeld: true, paymentMayBeHeld: true, compensation: null });
  });

  it("rejects an out-of-stock order at once: nothing is held, nothing to compensate", () => {
    const { final } = drive([{ kind: "refused", reason: "out of stock: AG-COF-001" }]);
    expect(final.state.step).toBe("DONE");
    expect(final.state.stockMayBeHeld).toBe(false);
    expect(final.order).toEqual({ status: "REJECTED", reason: "out of stock: AG-COF-001" });
  });

  it("releases the stock of a declined payment, then rejects", () => {
    const declined = drive([done, { kind: "refused", reason: "payment declined: insufficient funds", paymentId: "p" }]);
    expect(declined.final.state).toMatchObject({
      step: "RELEASE_STOCK",
      compensation: "REJECTED",
      paymentMayBeHeld: false,
      stockMayBeHeld: true,
    });
    expect(declined.final.paymentId).toBe("p");
    expect(declined.final.order).toBeUndefined();
    const released = run(declined.final.state, done);
    expect(released.state.step).toBe("DONE");
    expect(released.order).toEqual({ status: "REJECTED", reason: "payment declined: insufficient funds" });
  });

  it("voids the payment when the reservation expired before the commit, then rejects", () => {
    const { final } = drive([done, { kind: "done", paymentId: "p" }, { kind: "refused", reason: "expired" }]);
    expect(final.state).toMatchObject({ step: "VOID_PAYMENT", stockMayBeHeld: false, compensation: "REJECTED" });
    const voided = run(final.state, done);
    expect(voided.order).toEqual({ status: "REJECTED", reason: "expired" });
  });

  it("retries a failed step with exponential backoff and no limit before the deadline", () => {
    let state = initialSagaState();
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 6; attempt++) {
      const decision = run(state, unavailable);
      expect(decision.state.step).toBe("RESERVE_STOCK");
      expect(decision.state.attempts).toBe(attempt);
      expect(decision.state.lastError).toBe(unavailable.kind === "failed" ? unavailable.error : "");
      delays.push(decision.runInMs ?? -1);
      state = decision.state;
    }
    // 100, 200, 400, 800, 1000, 1000 with ±20 % jitter.
    const nominal = [100, 200, 400, 800, 1000, 1000];
    delays.forEach((delay, index) => {
      expect(delay).toBeGreaterThanOrEqual((nominal[index] as number) * 0.8);
      expect(delay).toBeLessThanOrEqual((nominal[index] as number) * 1.2);
    });
    // A success resets the attempts.
    expect(run(state, done).state.attempts).toBe(0);
  });

  it("computes retry delays from the attempt number, capped, with jitter", () => {
    expect(retryDelayMs(1, settings, 0.5)).toBe(100);
    expect(retryDelayMs(3, settings, 0.5)).toBe(400);
    expect(retryDelayMs(30, settings, 0.5)).toBe(1000);
    expect(retryDelayMs(1, settings, 0)).toBe(80);
    expect(retryDelayMs(1, settings, 0.999_999)).toBe(120);
  });

  it("records what may be held before each forward call, so a crash mid-call is compensated", () => {
    const reserving = markCalling(initialSagaState());
    expect(reserving.stockMayBeHeld).toBe(true);
    const authorizing = markCalling({ ...reserving, step: "AUTHORIZE_PAYMENT" });
    expect(authorizing.paymentMayBeHeld).toBe(true);
    expect(markCalling({ ...authorizing, step: "RELEASE_STOCK" })).toEqual({ ...authorizing, step: "RELEASE_STOCK" });
  });

  it("compensates a saga past its deadline: releases what it may hold and rejects with the last error", () => {
    const waiting: SagaState = {
      ...markCalling(initialSagaState()),
      attempts: 7,
      lastError: "UNAVAILABLE: inventory is down",
    };
    expect(beforeStep(waiting, { pastDeadline: false, deadlineMs: 60_000 })).toBeUndefined();
    const decision = beforeStep(waiting, { pastDeadline: true, deadlineMs: 60_000 });
    expect(decision?.state).toMatchObject({ step: "RELEASE_STOCK", compensation: "REJECTED", attempts: 0 });
    expect(decision?.state.compensationReason).toBe(
      "could not reserve the stock within 60 s (UNAVAILABLE: inventory is down)",
    );
    expect(decision?.runInMs).toBe(0);
    // A compensation step is never cut short by the deadline.
    expect(beforeStep(decision?.state as SagaState, { pastDeadline: true, deadlineMs: 60_000 })).toBeUndefined();
  });

  it("voids a possible authorization before releasing the stock when the deadline passes while authorizing", () => {
    const authorizing = markCalling({ ...markCalling(initialSagaState()), step: "AUTHORIZE_PAYMENT" });
    const decision = beforeStep(authorizing, { pastDeadline: true, deadlineMs: 5000 });
    expect(decision?.state.step).toBe("VOID_PAYMENT");
    const voided = run(decision?.state as SagaState, done);
    expect(voided.state.step).toBe("RELEASE_STOCK");
    const released = run(voided.state, done);
    expect(released.order?.status).toBe("REJECTED");
    expect(released.order?.reason).toBe("could not authorize the payment within 5 s");
  });

  it("rejects at once when the deadline passes before anything was called", () => {
    const decision = beforeStep(initialSagaState(), { pastDeadline: true, deadlineMs: 1000 });
    expect(decision?.state.step).toBe("DONE");
    expect(decision?.order?.status).toBe("REJECTED");
  });

  it("parks a compensation that keeps failing in NEEDS_ATTENTION, and a resumed one ends as intended", () => {
    const declined = drive([done, { kind: "refused", reason: "payment declined: card declined" }]).final.state;
    let state = declined;
    let decision: SagaDecision | undefined;
    for (let attempt = 1; attempt <= settings.maxCompensationAttempts; attempt++) {
      decision = run(state, unavailable);
      state = decision.state;
    }
    expect(decision?.state.parked).toBe(true);
    expect(decision?.runInMs).toBeUndefined();
    expect(decision?.order?.status).toBe("NEEDS_ATTENTION");
    expect(decision?.order?.reason).toBe(
      "payment declined: card declined; then release the stock failed 3 times: UNAVAILABLE: connection refused",
    );
    // What the operator's resume does: unpark, attempts from 0; the step then succeeds.
    const resumed = run({ ...state, parked: false, attempts: 0 }, done);
    expect(resumed.order).toEqual({ status: "REJECTED", reason: "payment declined: card declined" });
    expect(resumed.state.parked).toBe(false);
  });

  it("parks at once when a compensation is refused for good (a captured payment cannot be voided)", () => {
    const state: SagaState = {
      ...initialSagaState(),
      step: "VOID_PAYMENT",
      compensation: "CANCELLED",
      compensationReason: "changed my mind",
      paymentMayBeHeld: true,
    };
    const decision = run(state, { kind: "refused", reason: "payment p is CAPTURED" });
    expect(decision.order?.status).toBe("NEEDS_ATTENTION");
    expect(decision.state.parked).toBe(true);
  });

  describe("cancellation", () => {
    const pending = (state: SagaState = initialSagaState()) => planCancel("PENDING", state, "changed my mind");

    it("flags a PENDING order's saga; the executor compensates at its next step, not in the middle of one", () => {
      const plan = pending();
      expect(plan.kind).toBe("start");
      if (plan.kind !== "start") return;
      expect(plan.decision.state).toMatchObject({ cancelRequested: true, step: "RESERVE_STOCK" });
      expect(plan.decision.order).toBeUndefined();
      // Nothing was called yet: cancelled at once.
      const next = beforeStep(plan.decision.state, { pastDeadline: false, deadlineMs: 1 });
      expect(next?.order).toEqual({ status: "CANCELLED", reason: "changed my mind" });
    });

    it("lets a step in flight finish, then compensates what it took instead of going on", () => {
      const reserving = markCalling(initialSagaState());
      const plan = pending(reserving);
      if (plan.kind !== "start") throw new Error("expected start");
      // The reservation that was in flight succeeds: release it, then CANCELLED.
      const afterReserve = afterStep(plan.decision.state, done, settings);
      expect(afterReserve.state).toMatchObject({ step: "RELEASE_STOCK", compensation: "CANCELLED" });
      expect(run(afterReserve.state, done).order).toEqual({ status: "CANCELLED", reason: "changed my mind" });
      // An authorization that was in flight succeeds: void it, release, CANCELLED.
      const authorizing = markCalling({ ...plan.decision.state, step: "AUTHORIZE_PAYMENT", stockMayBeHeld: true });
      const afterAuthorize = afterStep(authorizing, { kind: "done", paymentId: "p" }, settings);
      expect(afterAuthorize.state.step).toBe("VOID_PAYMENT");
      expect(afterAuthorize.paymentId).toBe("p");
    });

    it("lets a rejection that wins the race stand", () => {
      const plan = pending(markCalling(initialSagaState()));
      if (plan.kind !== "start") throw new Error("expected start");
      const refused = afterStep(plan.decision.state, { kind: "refused", reason: "out of stock: X" }, settings);
      expect(refused.order?.status).toBe("REJECTED");
    });

    const confirmedCancel = (reason = "too slow") => {
      const confirmed = drive([done, { kind: "done", paymentId: "p" }, done]).final.state;
      const plan = planCancel("CONFIRMED", confirmed, reason);
      if (plan.kind !== "start") throw new Error("expected start");
      return plan.decision;
    };

    it("cancels a CONFIRMED order's shipment first, then voids, releases, CANCELLED", () => {
      const plan = confirmedCancel();
      expect(plan.state).toMatchObject({ step: "CANCEL_SHIPMENT", compensation: "CANCELLED", attempts: 0 });
      expect(plan.runInMs).toBe(0);
      expect(plan.order).toBeUndefined();
      const stopped = run(plan.state, done);
      expect(stopped.state.step).toBe("VOID_PAYMENT");
      expect(stopped.order).toBeUndefined();
      const voided = run(stopped.state, done);
      expect(voided.state.step).toBe("RELEASE_STOCK");
      const released = run(voided.state, done);
      expect(released.order).toEqual({ status: "CANCELLED", reason: "too slow" });
    });

    it("gives nothing back when shipping answers that the parcel has left: the order is SHIPPED", () => {
      const answer = "order o: shipment s was dispatched at …, tracking number AG1; it can no longer be cancelled";
      const decision = run(confirmedCancel().state, { kind: "refused", reason: answer, shipped: true });
      expect(decision.order).toEqual({ status: "SHIPPED", reason: `the cancellation came too late: ${answer}` });
      expect(decision.state).toMatchObject({ step: "DONE", compensation: null, parked: false });
      expect(decision.runInMs).toBeUndefined();
      expect(decision.log).toEqual({ step: "CANCEL_SHIPMENT", outcome: "refused", detail: answer });
    });

    it("retries shipping while it is down and parks the cancellation before giving anything back", () => {
      let state = confirmedCancel().state;
      let decision: SagaDecision | undefined;
      for (let attempt = 1; attempt <= settings.maxCompensationAttempts; attempt++) {
        decision = run(state, unavailable);
        state = decision.state;
      }
      expect(decision?.state).toMatchObject({ step: "CANCEL_SHIPMENT", parked: true, paymentMayBeHeld: true });
      expect(decision?.order).toEqual({
        status: "NEEDS_ATTENTION",
        reason: "too slow; then stop the shipment failed 3 times: UNAVAILABLE: connection refused",
      });
      // Any other refusal from shipping parks it at once.
      expect(run(confirmedCancel().state, { kind: "refused", reason: "INVALID_ARGUMENT: x" }).order?.status).toBe(
        "NEEDS_ATTENTION",
      );
    });

    it("cancels a PENDING order without asking shipping (it was never confirmed, so nothing ships)", () => {
      const plan = pending(markCalling(initialSagaState()));
      if (plan.kind !== "start") throw new Error("expected start");
      const afterReserve = afterStep(plan.decision.state, done, settings);
      expect(afterReserve.state.step).toBe("RELEASE_STOCK");
    });

    it("is idempotent, refuses final and parked orders, and waits for one under way", () => {
      const cases: Array<[OrderStatusName, string]> = [
        ["CANCELLED", "already-cancelled"],
        ["SHIPPED", "refused"],
        ["REJECTED", "refused"],
        ["NEEDS_ATTENTION", "refused"],
      ];
      for (const [status, kind] of cases) expect(planCancel(status, initialSagaState(), "x").kind).toBe(kind);
      expect(pending({ ...initialSagaState(), cancelRequested: true }).kind).toBe("in-progress");
      expect(pending({ ...initialSagaState(), compensation: "REJECTED" }).kind).toBe("in-progress");
      expect(planCancel("CONFIRMED", { ...initialSagaState(), compensation: "CANCELLED" }, "x").kind).toBe(
        "in-progress",
      );
    });
  });
});
