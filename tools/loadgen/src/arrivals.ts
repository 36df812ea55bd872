import type { Random } from "./random";

/**
 * How new flows arrive. "poisson": independent arrivals with exponential gaps (what many independent
 * users produce); "constant": exactly 1/rate apart.
 */
export type ArrivalProcess = "constant" | "poisson";

/** A monotonic clock in milliseconds and a way to wait on it (a virtual one in tests). */
export interface Clock {
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The process's monotonic clock (performance.now) and timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, Math.max(0, ms));
      function done() {
        signal?.removeEventListener("abort", done);
        clearTimeout(timer);
        resolve();
      }
      signal?.addEventListener("abort", done, { once: true });
    }),
};

/**
 * The intended arrival times, in milliseconds from the start, one per call: constant spacing
 * (i × 1000 / rate, computed from i so it never drifts) or Poisson (cumulative exponential gaps).
 */
export function arrivalTimes(rate: number, process: ArrivalProcess, random: Random): () => number {
  if (!(rate > 0) || !Number.isFinite(rate)) throw new Error(`rate must be a positive number, got ${rate}`);
  let index = 0;
  let offset = 0;
  return () => {
    if (process === "constant") return (index++ * 1000) / rate;
    offset += (-Math.log(1 - random()) * 1000) / rate;
    return offset;
  };
}

/** What {@link scheduleArrivals} needs. */
export interface ScheduleOptions {
  /** Arrivals per second. */
  rate: number;
  process: ArrivalProcess;
  random: Random;
  /** Arrivals are scheduled in [0, durationMs) from the start. */
  durationMs: number;
  clock?: Clock;
  /** Time zero on the clock (default: now). */
  startAt?: number;
  /** Stops scheduling (Ctrl-C). */
  signal?: AbortSignal;
  /**
   * Called once per arrival, synchronously, with the intended time (on the clock) and how late the
   * scheduler is. It must not wait for the flow: the flow runs on its own (open model).
   */
  onArrival(intendedAt: number, lateByMs: number): void;
}

/**
 * An open-model arrival loop: flows start at their intended times whatever the system under test
 * does, so slow responses never throttle the offered load (no coordinated omission). It sleeps until
 * the next intended time and then starts every arrival that is due; when the process falls behind
 * (a blocked event loop) it catches up at once and reports the lateness, so the offered rate stays
 * exact and the delay shows up in the latencies measured from the intended times.
 *
 * Resolves with the number of arrivals once the duration is over or the signal aborted.
 */
export async function scheduleArrivals(options: ScheduleOptions): Promise<number> {
  const clock = options.clock ?? systemClock;
  const start = options.startAt ?? clock.now();
  const next = arrivalTimes(options.rate, options.process, options.random);
  let due = next();
  let count = 0;
  while (due < options.durationMs && !options.signal?.aborted) {
    const elapsed = clock.now() - start;
    if (due > elapsed) {
      await clock.sleep(due - elapsed, options.signal);
      continue;
    }
    options.onArrival(start + due, elapsed - due);
    count++;
    due = next();
  }
  return count;
}
