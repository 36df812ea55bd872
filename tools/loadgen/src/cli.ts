import { parseArgs } from "node:util";
import type { ArrivalProcess } from "./arrivals";
import { defaultFlowMix, type FollowMode, flowNames } from "./flows";
import type { FollowUntil } from "./order-tracker";
import { freshSeed } from "./random";
import type { LoadOptions } from "./runner";
import { defaultGrpcAddresses } from "./shop-api";
import { parseWeights } from "./weighted";

/** The help text. */
export const usage = `agora-loadgen [options]

Drives Agora with weighted user flows at a fixed arrival rate (open model: new flows start on
schedule however slow the answers are) and reports throughput, latency percentiles (HDR histograms)
and errors per flow and per step, plus order completion times (placement → CONFIRMED → final).

Target
  --target URL           the gateway (default http://127.0.0.1:8080)
  --grpc                 call the services directly over gRPC instead of the gateway
  --catalog ADDR         catalog address with --grpc (default 127.0.0.1:50051)
  --inventory ADDR       inventory address (default 127.0.0.1:50052)
  --order ADDR           order address (default 127.0.0.1:50053)
  --identity ADDR        identity address (default 127.0.0.1:50056)

Load
  --rate N               new flows per second (default 10)
  --duration D           measured time after the warm-up (default 60s; 500ms, 30s, 10m, 1h, 1m30s)
  --warmup D             run but do not measure at first (default 5s)
  --arrival KIND         poisson (default) or constant spacing
  --flows SPEC           flow weights (default ${defaultFlowMix});
                         flows: ${flowNames.join(", ")}
  --users N              virtual users, each with its own account and token (default 50)
  --sign-in-first        register and log in every virtual user before the first arrival (not
                         measured); otherwise each signs up in its first flow that needs a session
  --products IDS         only order/view these product ids, comma separated (default: whole catalog)
  --max-lines N          most lines per order (default 3)
  --page-size N          page size when browsing (default 20)
  --seed N               seed of the random choices (default: random; printed in the report)

Orders
  --follow MODE          stream (SSE / WatchOrder, default), poll (GET every --poll-interval) or none
  --until WHEN           terminal (default: SHIPPED, REJECTED or CANCELLED) or confirmed
  --poll-interval D      default 100ms
  --order-timeout D      give up following an order after this long (default 60s)

Limits
  --timeout D            deadline of one request (default 10s)
  --connections N        most HTTP connections to the gateway (default 10000; each followed order
                         holds one for its event stream, and a lower cap queues requests in the tool)
  --max-in-flight N      most flows running at once; later arrivals are dropped and counted (default 10000)
  --drain-timeout D      after the last arrival, time for running flows to finish (default 30s)
  --wait-ready D         retry reading the catalog this long while the target is not up (default 60s)

Output
  --json                 print the report as JSON on stdout (the table goes to stderr)
  --json-out FILE        also write the JSON report to FILE
  --quiet                no progress line
  --max-error-rate R     exit 1 when the flow error rate exceeds R (0–1); otherwise load errors exit 0
  --help

Exit codes: 0 done, 1 --max-error-rate exceeded, 2 bad options or the tool could not run.
`;

/** Parsed command line: the run's options and what to do with the report. */
export interface CliOptions {
  load: LoadOptions;
  json: boolean;
  jsonOut?: string;
  quiet: boolean;
  maxErrorRate?: number;
}

/** A command line that cannot be run. */
export class UsageError extends Error {
  override name = "UsageError";
}

const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "250ms", "30s", "10m", "1h", "1m30s" or a plain number of seconds → milliseconds. */
export function parseDuration(text: string, flag = "duration"): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((part) => part[0]).join("") !== trimmed) {
    throw new UsageError(`--${flag}: "${text}" is not a duration (examples: 500ms, 30s, 10m, 1h, 1m30s)`);
  }
  return parts.reduce((total, part) => total + Number(part[1]) * (units[part[2] ?? "s"] ?? 1000), 0);
}

function positiveNumber(text: string, flag: string, options: { integer?: boolean; allowZero?: boolean } = {}): number {
  const value = Number(text);
  const ok =
    text.trim() !== "" &&
    Number.isFinite(value) &&
    (options.allowZero ? value >= 0 : value > 0) &&
    (!options.integer || Number.isInteger(value));
  if (!ok) {
    throw new UsageError(
      `--${flag}: "${text}" must be a ${options.allowZero ? "non-negative" : "positive"} ${options.integer ? "integer" : "number"}`,
    );
  }
  return value;
}

function oneOf<T extends string>(text: string, flag: string, allowed: readonly T[]): T {
  if (!allowed.includes(text as T)) throw new UsageError(`--${flag}: "${text}" must be one of ${allowed.join(", ")}`);
  return text as T;
}

function address(text: string, flag: string): string {
  if (!/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(text)) throw new UsageError(`--${flag}: "${text}" must be host:port`);
  return text;
}

/** Parses the command line (without node and the script). Throws {@link UsageError} for a bad one. */
export function parseCli(argv: string[]): CliOptions | "help" {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      strict: true,
      options: {
        target: { type: "string", default: "http://127.0.0.1:8080" },
        grpc: { type: "boolean", default: false },
        catalog: { type: "string", default: defaultGrpcAddresses.catalog },
        inventory: { type: "string", default: defaultGrpcAddresses.inventory },
        order: { type: "string", default: defaultGrpcAddresses.order },
        identity: { type: "string", default: defaultGrpcAddresses.identity },
        rate: { type: "string", default: "10" },
        duration: { type: "string", default: "60s" },
        warmup: { type: "string", default: "5s" },
        arrival: { type: "string", default: "poisson" },
        flows: { type: "string", default: defaultFlowMix },
        users: { type: "string", default: "50" },
        "sign-in-first": { type: "boolean", default: false },
        products: { type: "string", default: "" },
        "max-lines": { type: "string", default: "3" },
        "page-size": { type: "string", default: "20" },
        seed: { type: "string" },
        follow: { type: "string", default: "stream" },
        until: { type: "string", default: "terminal" },
        "poll-interval": { type: "string", default: "100ms" },
        "order-timeout": { type: "string", default: "60s" },
        timeout: { type: "string", default: "10s" },
        connections: { type: "string", default: "10000" },
        "max-in-flight": { type: "string", default: "10000" },
        "drain-timeout": { type: "string", default: "30s" },
        "wait-ready": { type: "string", default: "60s" },
        json: { type: "boolean", default: false },
        "json-out": { type: "string" },
        quiet: { type: "boolean", default: false },
        "max-error-rate": { type: "string" },
        help: { type: "boolean", default: false },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const text = (name: string): string => String(values[name] ?? "");
  if (values.help) return "help";

  let flows: Map<string, number>;
  try {
    flows = parseWeights(text("flows"), flowNames);
  } catch (error) {
    throw new UsageError(`--flows: ${error instanceof Error ? error.message : String(error)}`);
  }
  const mode = values.grpc ? "grpc" : "http";
  if (mode === "http") {
    let url: URL;
    try {
      url = new URL(text("target"));
    } catch {
      throw new UsageError(`--target: "${text("target")}" is not a URL (example: http://gateway:8080)`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new UsageError("--target must be http:// or https://");
  }
  const follow = oneOf<FollowMode>(text("follow"), "follow", ["stream", "poll", "none"]);
  const maxErrorRate =
    values["max-error-rate"] === undefined
      ? undefined
      : positiveNumber(text("max-error-rate"), "max-error-rate", { allowZero: true });
  if (maxErrorRate !== undefined && maxErrorRate > 1)
    throw new UsageError("--max-error-rate is a fraction between 0 and 1");
  const load: LoadOptions = {
    mode,
    target: text("target"),
    grpc: {
      catalog: address(text("catalog"), "catalog"),
      inventory: address(text("inventory"), "inventory"),
      order: address(text("order"), "order"),
      identity: address(text("identity"), "identity"),
    },
    rate: positiveNumber(text("rate"), "rate"),
    arrival: oneOf<ArrivalProcess>(text("arrival"), "arrival", ["poisson", "constant"]),
    durationMs: parseDuration(text("duration"), "duration"),
    warmupMs: parseDuration(text("warmup"), "warmup"),
    flows,
    users: positiveNumber(text("users"), "users", { integer: true }),
    signInFirst: values["sign-in-first"] === true,
    products: text("products")
      .split(",")
      .map((id) => id.trim())
      .filter((id) => id !== ""),
    maxLines: positiveNumber(text("max-lines"), "max-lines", { integer: true }),
    pageSize: positiveNumber(text("page-size"), "page-size", { integer: true }),
    seed:
      values.seed === undefined
        ? freshSeed()
        : positiveNumber(text("seed"), "seed", { integer: true, allowZero: true }),
    follow,
    until: oneOf<FollowUntil>(text("until"), "until", ["terminal", "confirmed"]),
    pollIntervalMs: parseDuration(text("poll-interval"), "poll-interval"),
    orderTimeoutMs: parseDuration(text("order-timeout"), "order-timeout"),
    timeoutMs: parseDuration(text("timeout"), "timeout"),
    connections: positiveNumber(text("connections"), "connections", { integer: true }),
    maxInFlight: positiveNumber(text("max-in-flight"), "max-in-flight", { integer: true }),
    drainTimeoutMs: parseDuration(text("drain-timeout"), "drain-timeout"),
    waitReadyMs: parseDuration(text("wait-ready"), "wait-ready"),
  };
  if (load.durationMs <= 0) throw new UsageError("--duration must be longer than 0");
  for (const [flag, value] of [
    ["timeout", load.timeoutMs],
    ["order-timeout", load.orderTimeoutMs],
    ["poll-interval", load.pollIntervalMs],
  ] as const) {
    if (value <= 0) throw new UsageError(`--${flag} must be longer than 0`);
  }
  return {
    load,
    json: Boolean(values.json),
    jsonOut: values["json-out"] === undefined ? undefined : text("json-out"),
    quiet: Boolean(values.quiet),
    maxErrorRate,
  };
}

/** The exit code for a finished run: 1 when the error rate is over --max-error-rate, else 0. */
export function exitCodeFor(errorRate: number, maxErrorRate: number | undefined): number {
  return maxErrorRate !== undefined && errorRate > maxErrorRate ? 1 : 0;
}
