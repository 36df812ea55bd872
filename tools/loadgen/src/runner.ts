import { randomBytes } from "node:crypto";
import { type ArrivalProcess, type Clock, scheduleArrivals, systemClock } from "./arrivals";
import { waitForCatalog } from "./catalog";
import { AbortedFlowError, errorCode, errorMessage } from "./errors";
import { type FlowContext, type FlowName, type FlowSettings, flowNames, flows } from "./flows";
import { HttpShopApi } from "./http-api";
import { pickOne, seededRandom } from "./random";
import { buildReport, type ProgressSnapshot, type Report } from "./report";
import type { GrpcAddresses, ShopApi } from "./shop-api";
import { increment, LiveStats, RunStats } from "./stats";
import { VirtualUser } from "./users";
import { WeightedChoice } from "./weighted";

/** Everything a load run is configured with (the CLI's flags, parsed). */
export interface LoadOptions extends FlowSettings {
  /** "http": through the gateway at `target`; "grpc": directly to the services at `grpc`. */
  mode: "http" | "grpc";
  target: string;
  grpc: GrpcAddresses;
  /** New flows per second (open model). */
  rate: number;
  arrival: ArrivalProcess;
  /** Measured time, after the warm-up. */
  durationMs: number;
  /** Time at the start whose flows are run but not measured. */
  warmupMs: number;
  /** Weight of each flow. */
  flows: Map<string, number>;
  /** Number of virtual users (accounts with their sessions) the flows are spread over. */
  users: number;
  /**
   * Register and log in every virtual user before the first arrival (not measured), so sign-ups
   * (a memory-hard password hash each) do not load the system while something else is measured.
   */
  signInFirst?: boolean;
  /** Deadline of one request. */
  timeoutMs: number;
  /** Most HTTP connections to the gateway. */
  connections: number;
  /** Most flows running at once; arrivals beyond it are dropped (and counted). */
  maxInFlight: number;
  /** How long flows may finish after the last arrival before they are cut off (incomplete). */
  drainTimeoutMs: number;
  /** How long to wait for the target to answer at start. */
  waitReadyMs: number;
  /** Only these product ids (default: the whole catalog). */
  products: string[];
  seed: number;
}

/** Hooks for the caller: progress, stopping, and a different API (tests). */
export interface RunHooks {
  /** Called every progressIntervalMs with the live numbers. */
  onProgress?: (progress: ProgressSnapshot) => void;
  progressIntervalMs?: number;
  /** Informational messages (waiting for the target …). */
  onNotice?: (message: string) => void;
  /** Stops new arrivals; running flows get the drain timeout (first Ctrl-C). */
  stop?: AbortSignal;
  /** Cuts running flows off at once (second Ctrl-C). */
  abort?: AbortSignal;
  /** Use this API instead of building one from the options. */
  api?: ShopApi;
  clock?: Clock;
}

/** The API the options ask for. The gRPC one (and the service kit it uses) is loaded only when asked for. */
export function createApi(options: LoadOptions): ShopApi {
  if (options.mode === "grpc") {
    const { GrpcShopApi } = require("./grpc-api") as typeof import("./grpc-api");
    return new GrpcShopApi({ addresses: options.grpc, timeoutMs: options.timeoutMs });
  }
  return new HttpShopApi({ target: options.target, timeoutMs: options.timeoutMs, connections: options.connections });
}

/**
 * Runs a load test: reads the catalog, then starts flows at the configured arrival rate for warm-up
 * plus duration, each on a random virtual user, lets the running flows finish (up to the drain
 * timeout), and reports what was measured in the window after the warm-up. Load errors are part of
 * the report; only problems of the tool itself (bad options, no catalog) reject.
 */
export async function runLoad(options: LoadOptions, hooks: RunHooks = {}): Promise<Report> {
  const api = hooks.api ?? createApi(options);
  const clock = hooks.clock ?? systemClock;
  const cutOff = new AbortController();
  const onAbort = () => cutOff.abort();
  hooks.abort?.addEventListener("abort", onAbort, { once: true });
  let ticker: NodeJS.Timeout | undefined;
  try {
    const catalog = await waitForCatalog(api, {
      only: options.products,
      waitMs: options.waitReadyMs,
      clock,
      signal: hooks.stop,
      onRetry: (message) => hooks.onNotice?.(`waiting for ${api.target}: ${message}`),
    });
    hooks.onNotice?.(
      `catalog: ${catalog.products.length} products, ${catalog.categories.length} categories, ${catalog.searchTerms.length} search terms`,
    );
    const weights = [...options.flows].filter(([, weight]) => weight > 0);
    for (const [name] of weights) {
      if (!flowNames.includes(name as FlowName)) throw new Error(`unknown flow ${name}`);
    }
    const chooser = new WeightedChoice(weights.map(([name, weight]) => [name as FlowName, weight] as const));
    const random = seededRandom(options.seed);
    const runId = randomBytes(4).toString("hex");
    const users = Array.from({ length: options.users }, (_, index) => new VirtualUser(index + 1, runId));
    if (options.signInFirst) {
      hooks.onNotice?.(`signing in ${users.length} virtual users first`);
      await signInAll(api, users, hooks.stop);
    }
    const stats = new RunStats(weights.map(([name]) => name));
    const live = new LiveStats();
    const inFlight = new Set<Promise<void>>();

    const startedAt = new Date();
    const start = clock.now();
    const measureFrom = start + options.warmupMs;
    const plannedEnd = measureFrom + options.durationMs;
    let phase: ProgressSnapshot["phase"] = options.warmupMs > 0 ? "warm-up" : "measure";

    const runFlow = async (name: FlowName, intendedAt: number, measured: boolean): Promise<void> => {
      const flowStats = measured ? stats.flow(name) : undefined;
      if (flowStats) flowStats.started++;
      live.started++;
      live.inFlight++;
      const context: FlowContext = {
        api,
        user: pickOne(random, users),
        catalog,
        random,
        settings: options,
        clock,
        signal: cutOff.signal,
        async step(stepName, call) {
          const begun = clock.now();
          try {
            const result = await call({ signal: cutOff.signal });
            flowStats?.step(stepName).success(clock.now() - begun);
            return result;
          } catch (error) {
            if (!(error instanceof AbortedFlowError)) {
              const code = errorCode(error);
              flowStats?.step(stepName).failure(code);
              if (measured) stats.sample(code, errorMessage(error));
            }
            throw error;
          }
        },
        order(outcome, tracker) {
          if (tracker.confirmedAfterMs !== undefined) {
            live.ordersConfirmed++;
            live.intervalConfirm.record(tracker.confirmedAfterMs);
          }
          if (!measured) return;
          stats.orders.placed++;
          increment(stats.orders.outcomes, outcome);
          if (tracker.confirmedAfterMs !== undefined) stats.orders.toConfirmed.record(tracker.confirmedAfterMs);
          if (tracker.terminalAfterMs !== undefined) stats.orders.toTerminal.record(tracker.terminalAfterMs);
        },
      };
      try {
        await flows[name](context);
        const latency = clock.now() - intendedAt;
        live.succeeded++;
        live.interval.record(latency);
        if (flowStats) {
          flowStats.succeeded++;
          flowStats.latency.record(latency);
        }
      } catch (error) {
        if (error instanceof AbortedFlowError || cutOff.signal.aborted) {
          if (flowStats) flowStats.incomplete++;
        } else {
          live.failed++;
          const code = errorCode(error);
          if (flowStats) {
            flowStats.failed++;
            increment(flowStats.errors, code);
            stats.sample(code, errorMessage(error));
          }
        }
      } finally {
        live.inFlight--;
      }
    };

    const progressEvery = hooks.progressIntervalMs ?? 1000;
    let lastTick = start;
    const totalMs = options.warmupMs + options.durationMs;
    if (hooks.onProgress) {
      ticker = setInterval(() => {
        const now = clock.now();
        const snapshot: ProgressSnapshot = {
          phase,
          elapsedMs: now - start,
          totalMs,
          startedPerSecond: live.intervalStarted / Math.max(0.001, (now - lastTick) / 1000),
          inFlight: live.inFlight,
          succeeded: live.succeeded,
          failed: live.failed,
          p99Ms: live.interval.percentile(99),
          ordersConfirmed: live.ordersConfirmed,
          confirmP99Ms: live.intervalConfirm.percentile(99),
        };
        lastTick = now;
        live.intervalStarted = 0;
        live.interval.reset();
        live.intervalConfirm.reset();
        hooks.onProgress?.(snapshot);
      }, progressEvery);
      ticker.unref();
    }

    await scheduleArrivals({
      rate: options.rate,
      process: options.arrival,
      random,
      durationMs: totalMs,
      clock,
      startAt: start,
      signal: hooks.stop,
      onArrival(intendedAt, lateByMs) {
        const measured = intendedAt >= measureFrom;
        if (measured && phase === "warm-up") phase = "measure";
        live.intervalStarted++;
        if (measured) {
          stats.offered++;
          stats.lateness.record(lateByMs);
        }
        if (inFlight.size >= options.maxInFlight) {
          if (measured) stats.dropped++;
          return;
        }
        const running: Promise<void> = runFlow(chooser.pick(random), intendedAt, measured).finally(() =>
          inFlight.delete(running),
        );
        inFlight.add(running);
      },
    });
    const arrivalsEnded = clock.now();
    const interrupted = hooks.stop?.aborted ?? false;
    phase = "drain";

    if (inFlight.size > 0 && !cutOff.signal.aborted) {
      const drained = Promise.all(inFlight).then(() => undefined);
      const timer = new AbortController();
      await Promise.race([
        drained,
        clock.sleep(options.drainTimeoutMs, AbortSignal.any([timer.signal, cutOff.signal])),
      ]);
      timer.abort();
    }
    cutOff.abort();
    await Promise.all(inFlight);

    return buildReport({
      stats,
      target: api.target,
      settings: {
        mode: options.mode,
        rate: options.rate,
        arrival: options.arrival,
        durationSeconds: options.durationMs / 1000,
        warmupSeconds: options.warmupMs / 1000,
        users: options.users,
        flows: Object.fromEntries(weights),
        follow: options.follow,
        until: options.until,
        timeoutMs: options.timeoutMs,
        orderTimeoutMs: options.orderTimeoutMs,
        maxInFlight: options.maxInFlight,
        seed: options.seed,
      },
      startedAt,
      finishedAt: new Date(),
      // The window is the planned duration, or up to the interruption.
      windowMs: interrupted
        ? Math.min(plannedEnd, Math.max(arrivalsEnded, measureFrom)) - measureFrom
        : options.durationMs,
      interrupted,
    });
  } finally {
    if (ticker) clearInterval(ticker);
    hooks.abort?.removeEventListener("abort", onAbort);
    if (!hooks.api) api.close();
  }
}

/** Signs every user in (registering them), a few at a time; unmeasured preparation, so errors reject. */
async function signInAll(api: ShopApi, users: readonly VirtualUser[], stop?: AbortSignal): Promise<void> {
  const queue = [...users];
  const signInConcurrency = 4;
  const worker = async () => {
    for (let user = queue.shift(); user && !stop?.aborted; user = queue.shift()) {
      await user.session({
        register: (customer) => api.register(customer, {}),
        login: (email, password) => api.login(email, password, {}),
      });
    }
  };
  await Promise.all(Array.from({ length: signInConcurrency }, worker));
}
