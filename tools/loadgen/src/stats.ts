import { LatencyHistogram } from "./histogram";

/** Adds `by` to the count of `key`. */
export function increment(counts: Map<string, number>, key: string, by = 1): void {
  counts.set(key, (counts.get(key) ?? 0) + by);
}

/** Outcome of one request of a step. Latencies are recorded for successful requests only. */
export class StepStats {
  succeeded = 0;
  failed = 0;
  readonly errors = new Map<string, number>();
  readonly latency = new LatencyHistogram();

  /** Requests that got an answer (success or error). */
  get requests(): number {
    return this.succeeded + this.failed;
  }

  /** Records a success that took `ms`. */
  success(ms: number): void {
    this.succeeded++;
    this.latency.record(ms);
  }

  /** Records a failure with its error code. */
  failure(code: string): void {
    this.failed++;
    increment(this.errors, code);
  }
}

/** Outcome of the flows of one kind: end-to-end latency from the intended start, and each step. */
export class FlowStats {
  started = 0;
  succeeded = 0;
  failed = 0;
  /** Still running when the run ended (cut off after the drain timeout); neither success nor error. */
  incomplete = 0;
  readonly errors = new Map<string, number>();
  readonly latency = new LatencyHistogram();
  readonly steps = new Map<string, StepStats>();

  /** The stats of a step, created on first use (steps keep the order they first ran in). */
  step(name: string): StepStats {
    let stats = this.steps.get(name);
    if (!stats) {
      stats = new StepStats();
      this.steps.set(name, stats);
    }
    return stats;
  }
}

/** What happened to the orders placed: final statuses and the completion latencies. */
export class OrderStats {
  placed = 0;
  /** By final status (ORDER_STATUS_SHIPPED …), or TIMEOUT, FOLLOW_FAILED, NOT_FOLLOWED, ABORTED. */
  readonly outcomes = new Map<string, number>();
  /** From sending PlaceOrder to seeing the order CONFIRMED (or already SHIPPED). */
  readonly toConfirmed = new LatencyHistogram();
  /** From sending PlaceOrder to seeing a final status. */
  readonly toTerminal = new LatencyHistogram();
}

/** Everything measured in the measurement window (flows whose intended start lies in it). */
export class RunStats {
  readonly flows = new Map<string, FlowStats>();
  readonly orders = new OrderStats();
  /** Arrivals in the window. */
  offered = 0;
  /** Arrivals not started because --max-in-flight flows were running already. */
  dropped = 0;
  /** How late the scheduler started flows after their intended time. */
  readonly lateness = new LatencyHistogram();
  /** The first message seen for each error code. */
  readonly errorSamples = new Map<string, string>();

  constructor(flowNames: Iterable<string> = []) {
    for (const name of flowNames) this.flow(name);
  }

  /** The stats of a flow, created on first use. */
  flow(name: string): FlowStats {
    let stats = this.flows.get(name);
    if (!stats) {
      stats = new FlowStats();
      this.flows.set(name, stats);
    }
    return stats;
  }

  /** Keeps the first message of each error code. */
  sample(code: string, message: string): void {
    if (!this.errorSamples.has(code)) this.errorSamples.set(code, message);
  }
}

/** Counters for the live progress line: the whole run including warm-up, plus the last interval. */
export class LiveStats {
  started = 0;
  succeeded = 0;
  failed = 0;
  inFlight = 0;
  ordersConfirmed = 0;
  /** Flow latencies since the last progress line. */
  readonly interval = new LatencyHistogram();
  /** Placement → CONFIRMED latencies since the last progress line. */
  readonly intervalConfirm = new LatencyHistogram();
  /** Flows started since the last progress line. */
  intervalStarted = 0;
}
