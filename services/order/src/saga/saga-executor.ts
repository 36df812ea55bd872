import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type BackgroundTask,
  Counter,
  contextFromHeaders,
  Gauge,
  Histogram,
  inSpan,
  type Registry,
  runWithRequestContext,
  SpanKind,
  type Tracer,
} from "@agora/service-kit";
import type { Logger } from "pino";
import type { SagaStep } from "../db/schema";
import type { SagaDecision } from "./place-order-saga";
import { type PaymentPort, runStep, type ShipmentPort, type StockPort } from "./saga-steps";
import type { ClaimedSaga, SagaStore, StepToRun } from "./saga-store";

const minimumPauseMs = 20;

/** Executor settings (SAGA_* configuration). */
export interface SagaExecutorOptions {
  /** Sagas run at once by this replica. */
  readonly concurrency: number;
  /** Longest idle wait between looks for due sagas (the sweep). */
  readonly sweepIntervalMs: number;
}

/** Something that can start the executor's next round now (PlaceOrder, CancelOrder, NOTIFY). */
export interface SagaKicker {
  kick(): void;
}

/** A lease on the saga of an order about to be placed, taken from a free executor slot. */
export interface SagaLease {
  readonly token: string;
  readonly ms: number;
}

/**
 * How PlaceOrder starts sagas: with a lease from a free slot the saga is written already claimed, its
 * first step's intent recorded, and run at once ({@link adopt}) — no claim round, no begin round;
 * without one (every slot busy) it is written due and the executor claims it when a slot frees up.
 */
export interface SagaStarter extends SagaKicker {
  /** A lease for a saga this replica is about to write; undefined when every slot is busy. */
  reserveLease(): SagaLease | undefined;
  /** Runs a saga written under a lease from {@link reserveLease}, starting with its begun first step. */
  adopt(saga: ClaimedSaga, first: StepToRun): void;
  /** Gives back a lease that was not used (the order was not written). */
  releaseLease(): void;
}

/**
 * Runs sagas that are due. It claims them (FOR UPDATE SKIP LOCKED + lease, so replicas share the
 * work), runs each saga's steps back to back while they succeed, and leaves failed steps to their
 * retry time. It wakes on {@link kick} (PlaceOrder and CancelOrder in this replica), on NOTIFY from
 * other replicas (wired in main.ts), at the next retry time it knows of, and at least every
 * `sweepIntervalMs` — the sweep that resumes sagas whose executor crashed (lease ran out), retries
 * stuck steps and applies deadlines.
 */
export class SagaExecutor implements BackgroundTask, SagaStarter {
  readonly name = "saga-executor";
  private running = false;
  private loop?: Promise<void>;
  private kicked = false;
  private wake?: () => void;
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Slots promised to PlaceOrder calls whose sagas are being written (see {@link reserveLease}). */
  private reserved = 0;
  /** The last round found every slot busy (or filled them all): a freed slot starts another round. */
  private waitingForSlot = false;
  private unlisten?: () => Promise<void>;
  private readonly steps: Counter<"step" | "outcome">;
  private readonly takeovers: Counter;
  private readonly completion: Histogram<"outcome">;

  constructor(
    private readonly deps: {
      store: SagaStore;
      stock: StockPort;
      payments: PaymentPort;
      shipments: ShipmentPort;
      logger: Logger;
      tracer: Tracer;
      registry: Registry;
      /** Subscribes to the NOTIFY that other replicas send when a saga becomes due (LISTEN). */
      listen?: (onNotify: () => void) => Promise<() => Promise<void>>;
    },
    private readonly options: SagaExecutorOptions,
  ) {
    const { registry, store } = deps;
    this.steps = new Counter({
      name: "agora_order_saga_steps_total",
      help: "Saga steps run, by step and outcome (done, refused, failed).",
      labelNames: ["step", "outcome"],
      registers: [registry],
    });
    this.takeovers = new Counter({
      name: "agora_order_saga_takeovers_total",
      help: "Sagas resumed after their executor's lease ran out (a crashed or hung replica).",
      registers: [registry],
    });
    this.completion = new Histogram({
      name: "agora_order_saga_completion_seconds",
      help: "Time from placement to the saga's end, by the order's status.",
      labelNames: ["outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    });
    new Gauge({
      name: "agora_order_sagas",
      help: "Sagas by condition: active (still running), stuck (lease ran out), parked (NEEDS_ATTENTION).",
      labelNames: ["condition"],
      registers: [registry],
      async collect() {
        const counts = await store.counts();
        for (const [condition, count] of Object.entries(counts)) this.set({ condition }, count);
      },
    });
  }

  /** Starts a round now (a saga became due in this replica). */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  reserveLease(): SagaLease | undefined {
    if (!this.running || this.inFlight.size + this.reserved >= this.options.concurrency) return undefined;
    this.reserved++;
    return { token: randomUUID(), ms: this.deps.store.leaseMs };
  }

  adopt(saga: ClaimedSaga, first: StepToRun): void {
    this.reserved--;
    this.launch(saga, first);
  }

  releaseLease(): void {
    this.reserved--;
    if (this.waitingForSlot) this.kick();
  }

  async start(): Promise<void> {
    this.running = true;
    this.unlisten = await this.deps.listen?.(() => this.kick());
    this.loop = this.run();
  }

  /** Stops claiming, lets the steps in flight finish (they are bounded by their deadlines), returns. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await Promise.allSettled(this.inFlight.values());
    await this.unlisten?.().catch(() => undefined);
  }

  private async pause(ms: number): Promise<void> {
    if (this.kicked || !this.running) return;
    const controller = new AbortController();
    this.wake = () => controller.abort();
    await sleep(ms, undefined, { signal: controller.signal }).catch(() => undefined);
    this.wake = undefined;
  }

  private async run(): Promise<void> {
    let backoff = 100;
    while (this.running) {
      this.kicked = false;
      try {
        const free = this.options.concurrency - this.inFlight.size - this.reserved;
        if (free <= 0) {
          // Every slot is busy: a saga that finishes kicks the next round.
          this.waitingForSlot = true;
          await this.pause(this.options.sweepIntervalMs);
          continue;
        }
        const claimed = await this.deps.store.claimDue(free);
        for (const saga of claimed) this.launch(saga);
        backoff = 100;
        this.waitingForSlot = claimed.length > 0 && claimed.length === free;
        if (this.waitingForSlot) continue;
        const nextDue = await this.deps.store.nextDueInMs();
        // At least a few milliseconds: a due saga another replica is claiming right now is skipped, not waited for.
        await this.pause(
          Math.max(minimumPauseMs, Math.min(this.options.sweepIntervalMs, nextDue ?? Number.POSITIVE_INFINITY)),
        );
      } catch (error) {
        this.deps.logger.warn({ err: error, retry_ms: backoff }, "saga executor: claiming failed; retrying");
        await this.pause(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  private launch(saga: ClaimedSaga, first?: StepToRun): void {
    if (saga.takenOver) {
      this.takeovers.inc();
      this.deps.logger.warn({ order_id: saga.orderId }, "saga resumed after its executor's lease ran out");
    }
    const work = this.runSaga(saga, first)
      .catch((error: unknown) => {
        this.deps.logger.error({ err: error, order_id: saga.orderId }, "saga round failed; the sweeper retries it");
      })
      .finally(() => {
        this.inFlight.delete(saga.orderId);
        // Sagas due later wake the executor themselves (timer, NOTIFY, sweep); only a round that
        // left due sagas unclaimed for want of a slot needs this one.
        if (this.waitingForSlot) this.kick();
      });
    this.inFlight.set(saga.orderId, work);
  }

  /**
   * Runs one saga's steps while each succeeds and the next is due at once, in the saga's own request
   * context and trace (the correlation id and trace of its PlaceOrder, never a caller's), so its
   * downstream calls and the events of its transitions continue the order's trace.
   */
  private runSaga(saga: ClaimedSaga, first?: StepToRun): Promise<void> {
    const round = () =>
      inSpan(
        this.deps.tracer,
        "order saga",
        {
          kind: SpanKind.INTERNAL,
          attributes: { "agora.order_id": saga.orderId },
          parent: contextFromHeaders(saga.traceHeaders),
        },
        () => this.runSteps(saga, first),
      );
    return runWithRequestContext({ correlationId: saga.correlationId }, round);
  }

  private async runSteps(saga: ClaimedSaga, first?: StepToRun): Promise<void> {
    const { store, logger } = this.deps;
    // A step already begun (its intent recorded): by the previous step's finish, or by PlaceOrder.
    let next: StepToRun | undefined = first;
    while (this.running) {
      const begun = next ?? (await store.begin(saga.orderId, saga.leaseToken));
      next = undefined;
      if (begun.kind === "stop") return;
      let decision: SagaDecision;
      if (begun.kind === "decided") {
        decision = begun.decision;
      } else {
        const outcome = await this.step(saga, begun.step, () => runStep(begun.step, begun.order, this.deps));
        this.steps.inc({ step: begun.step, outcome: outcome.kind });
        if (outcome.kind === "failed") {
          logger.warn({ order_id: saga.orderId, step: begun.step, error: outcome.error }, "saga step failed");
        }
        const finished = await store.finish(saga.orderId, saga.leaseToken, begun.step, outcome, begun.order);
        if (finished.kind === "stop") return;
        decision = finished.decision;
        next = finished.next;
      }
      if (decision.order) {
        logger.info(
          { order_id: saga.orderId, status: decision.order.status, reason: decision.order.reason },
          `order ${decision.order.status}`,
        );
        if (decision.state.step === "DONE" || decision.order.status === "NEEDS_ATTENTION") {
          this.completion.observe({ outcome: decision.order.status }, await store.ageSeconds(saga.orderId));
        }
      }
      if (decision.runInMs === undefined) return;
      if (decision.runInMs > 0) {
        setTimeout(() => this.kick(), decision.runInMs).unref();
        return;
      }
    }
    // Stopping between steps: give the saga back so another replica can go on at once.
    await store.abandon(saga.orderId, saga.leaseToken);
  }

  private step<T>(saga: ClaimedSaga, step: SagaStep, fn: () => Promise<T>): Promise<T> {
    return inSpan(
      this.deps.tracer,
      `saga ${step}`,
      {
        kind: SpanKind.INTERNAL,
        attributes: { "agora.order_id": saga.orderId, "agora.saga.step": step },
      },
      fn,
    );
  }
}
