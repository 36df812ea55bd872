import type { LatencySummary } from "./histogram";
import type { FlowStats, RunStats, StepStats } from "./stats";

/** One step of a flow in the report. Latencies are of successful requests. */
export interface StepReport {
  requests: number;
  succeeded: number;
  failed: number;
  /** Successful requests per second of the measurement window. */
  perSecond: number;
  latencyMs: LatencySummary;
  errors: Record<string, number>;
}

/** One flow in the report. Latency runs from the flow's intended start to its last step, for successful flows. */
export interface FlowReport {
  started: number;
  succeeded: number;
  failed: number;
  incomplete: number;
  /** Successful flows per second of the measurement window (throughput). */
  perSecond: number;
  latencyMs: LatencySummary;
  errors: Record<string, number>;
  steps: Record<string, StepReport>;
}

/** The orders placed by the place-order flow. */
export interface OrderReport {
  /** Orders the shop accepted. */
  placed: number;
  /** Orders seen confirmed (CONFIRMED, or SHIPPED). */
  confirmed: number;
  confirmedPerSecond: number;
  /** By final status, or TIMEOUT, FOLLOW_FAILED, NOT_FOLLOWED, ABORTED. */
  outcomes: Record<string, number>;
  /** PlaceOrder sent → CONFIRMED seen. */
  toConfirmedMs: LatencySummary;
  /** PlaceOrder sent → final status seen. */
  toTerminalMs: LatencySummary;
}

/** The settings a report was produced with. */
export interface ReportSettings {
  mode: "http" | "grpc";
  rate: number;
  arrival: string;
  durationSeconds: number;
  warmupSeconds: number;
  users: number;
  flows: Record<string, number>;
  follow: string;
  until: string;
  timeoutMs: number;
  orderTimeoutMs: number;
  maxInFlight: number;
  seed: number;
}

/** The whole report, as `--json` prints it. */
export interface Report {
  schema: "agora-loadgen/v1";
  target: string;
  startedAt: string;
  finishedAt: string;
  settings: ReportSettings;
  /** The measurement window: after warm-up, until the arrivals stopped. */
  window: { seconds: number; interrupted: boolean };
  totals: {
    /** Flows that were due in the window. */
    offered: number;
    offeredPerSecond: number;
    started: number;
    succeeded: number;
    failed: number;
    incomplete: number;
    /** Not started because --max-in-flight flows were running. */
    dropped: number;
    /** (failed + dropped) / (succeeded + failed + dropped). */
    errorRate: number;
    flowsPerSecond: number;
    requests: number;
    requestsPerSecond: number;
  };
  flows: Record<string, FlowReport>;
  orders: OrderReport;
  /** Every error code, most frequent first, with the first message seen. */
  errors: Array<{ code: string; count: number; sample: string }>;
  /** How late flows started after their intended time (the generator's own lag). */
  scheduler: { lateMs: LatencySummary };
}

function perSecond(count: number, seconds: number): number {
  return seconds > 0 ? Math.round((count / seconds) * 1000) / 1000 : 0;
}

function record(counts: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

function stepReport(step: StepStats, seconds: number): StepReport {
  return {
    requests: step.requests,
    succeeded: step.succeeded,
    failed: step.failed,
    perSecond: perSecond(step.succeeded, seconds),
    latencyMs: step.latency.summary(),
    errors: record(step.errors),
  };
}

function flowReport(flow: FlowStats, seconds: number): FlowReport {
  return {
    started: flow.started,
    succeeded: flow.succeeded,
    failed: flow.failed,
    incomplete: flow.incomplete,
    perSecond: perSecond(flow.succeeded, seconds),
    latencyMs: flow.latency.summary(),
    errors: record(flow.errors),
    steps: Object.fromEntries([...flow.steps].map(([name, step]) => [name, stepReport(step, seconds)])),
  };
}

/** Turns the measured stats into the report. */
export function buildReport(input: {
  stats: RunStats;
  target: string;
  settings: ReportSettings;
  startedAt: Date;
  finishedAt: Date;
  windowMs: number;
  interrupted: boolean;
}): Report {
  const { stats } = input;
  const seconds = Math.max(0, input.windowMs) / 1000;
  const flows = Object.fromEntries([...stats.flows].map(([name, flow]) => [name, flowReport(flow, seconds)]));
  const all = [...stats.flows.values()];
  const sum = (value: (flow: FlowStats) => number) => all.reduce((total, flow) => total + value(flow), 0);
  const succeeded = sum((flow) => flow.succeeded);
  const failed = sum((flow) => flow.failed);
  const requests = sum((flow) => [...flow.steps.values()].reduce((total, step) => total + step.requests, 0));
  const errorCounts = new Map<string, number>();
  for (const flow of all) {
    for (const step of flow.steps.values()) {
      for (const [code, count] of step.errors) errorCounts.set(code, (errorCounts.get(code) ?? 0) + count);
    }
    // Flow errors that no step reported (a tool error between steps) still show up.
    for (const [code, count] of flow.errors) {
      const stepCount = [...flow.steps.values()].reduce((total, step) => total + (step.errors.get(code) ?? 0), 0);
      if (count > stepCount) errorCounts.set(code, (errorCounts.get(code) ?? 0) + count - stepCount);
    }
  }
  const denominator = succeeded + failed + stats.dropped;
  const orders = stats.orders;
  return {
    schema: "agora-loadgen/v1",
    target: input.target,
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    settings: input.settings,
    window: { seconds, interrupted: input.interrupted },
    totals: {
      offered: stats.offered,
      offeredPerSecond: perSecond(stats.offered, seconds),
      started: sum((flow) => flow.started),
      succeeded,
      failed,
      incomplete: sum((flow) => flow.incomplete),
      dropped: stats.dropped,
      errorRate: denominator === 0 ? 0 : Math.round(((failed + stats.dropped) / denominator) * 1e6) / 1e6,
      flowsPerSecond: perSecond(succeeded, seconds),
      requests,
      requestsPerSecond: perSecond(requests, seconds),
    },
    flows,
    orders: {
      placed: orders.placed,
      confirmed: orders.toConfirmed.count,
      confirmedPerSecond: perSecond(orders.toConfirmed.count, seconds),
      outcomes: record(orders.outcomes),
      toConfirmedMs: orders.toConfirmed.summary(),
      toTerminalMs: orders.toTerminal.summary(),
    },
    errors: [...errorCounts]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([code, count]) => ({ code, count, sample: stats.errorSamples.get(code) ?? "" })),
    scheduler: { lateMs: stats.lateness.summary() },
  };
}

function ms(value: number): string {
  if (value >= 10_000) return value.toFixed(0);
  if (value >= 100) return value.toFixed(1);
  return value.toFixed(2);
}

function rate(value: number): string {
  return value.toFixed(value >= 100 ? 1 : 2);
}

function percent(value: number): string {
  return `${(value * 100).toFixed(2)} %`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[column] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n");
}

function latencyCells(latency: LatencySummary): string[] {
  return latency.count === 0
    ? ["-", "-", "-", "-"]
    : [ms(latency.p50), ms(latency.p90), ms(latency.p99), ms(latency.max)];
}

function errorCell(errors: Record<string, number>): string {
  return Object.entries(errors)
    .map(([code, count]) => `${code}×${count}`)
    .join(" ");
}

/** The report as readable text: settings, totals, a table per flow and step, orders, errors. */
export function formatReport(report: Report): string {
  const s = report.settings;
  const t = report.totals;
  const lines: string[] = [];
  lines.push(
    `Agora load test against ${report.target}`,
    `${rate(s.rate)} flows/s (${s.arrival}) for ${s.durationSeconds} s after ${s.warmupSeconds} s warm-up, ` +
      `${s.users} virtual users, flows ${Object.entries(s.flows)
        .map(([name, weight]) => `${name}=${weight}`)
        .join(",")}`,
    `measured ${report.window.seconds.toFixed(1)} s${report.window.interrupted ? " (interrupted)" : ""}: ` +
      `${t.offered} flows offered (${rate(t.offeredPerSecond)}/s), ${t.succeeded} succeeded (${rate(t.flowsPerSecond)}/s), ` +
      `${t.failed} failed, ${t.incomplete} incomplete, ${t.dropped} dropped; error rate ${percent(t.errorRate)}; ` +
      `${t.requests} requests (${rate(t.requestsPerSecond)}/s)`,
    "",
  );
  const rows: string[][] = [];
  for (const [name, flow] of Object.entries(report.flows)) {
    rows.push([
      name,
      String(flow.started),
      String(flow.succeeded),
      String(flow.failed),
      rate(flow.perSecond),
      ...latencyCells(flow.latencyMs),
      errorCell(flow.errors),
    ]);
    for (const [stepName, step] of Object.entries(flow.steps)) {
      rows.push([
        `  ${stepName}`,
        String(step.requests),
        String(step.succeeded),
        String(step.failed),
        rate(step.perSecond),
        ...latencyCells(step.latencyMs),
        errorCell(step.errors),
      ]);
    }
  }
  lines.push(
    table(["flow / step", "count", "ok", "err", "ok/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"], rows),
  );
  const o = report.orders;
  if (o.placed > 0 || (report.flows["place-order"]?.started ?? 0) > 0) {
    lines.push(
      "",
      `orders: ${o.placed} placed, ${o.confirmed} confirmed (${rate(o.confirmedPerSecond)}/s); outcomes ${
        Object.entries(o.outcomes)
          .map(([outcome, count]) => `${outcome.replace(/^ORDER_STATUS_/, "")} ${count}`)
          .join(", ") || "none"
      }`,
      table(
        ["order completion", "count", "p50 ms", "p90 ms", "p99 ms", "max ms"],
        [
          ["placement → CONFIRMED", String(o.toConfirmedMs.count), ...latencyCells(o.toConfirmedMs)],
          ["placement → final status", String(o.toTerminalMs.count), ...latencyCells(o.toTerminalMs)],
        ],
      ),
    );
  }
  if (report.errors.length > 0) {
    lines.push("", "errors:");
    const width = Math.max(...report.errors.map((error) => error.code.length));
    for (const error of report.errors) {
      lines.push(`  ${error.code.padEnd(width)}  ${String(error.count).padStart(6)}  ${error.sample}`);
    }
  }
  const late = report.scheduler.lateMs;
  lines.push(
    "",
    `scheduler lateness p99 ${ms(late.p99)} ms, max ${ms(late.max)} ms` +
      (late.p99 > 10 ? " — the generator itself is falling behind; give it more CPU or a lower rate" : ""),
  );
  return lines.join("\n");
}

/** The live progress line's data. */
export interface ProgressSnapshot {
  phase: "warm-up" | "measure" | "drain";
  elapsedMs: number;
  totalMs: number;
  /** Flows started per second over the last interval. */
  startedPerSecond: number;
  inFlight: number;
  succeeded: number;
  failed: number;
  /** p99 of the flows finished in the last interval (0 when none). */
  p99Ms: number;
  ordersConfirmed: number;
  /** p99 placement → CONFIRMED over the last interval (0 when none). */
  confirmP99Ms: number;
}

function clock(msValue: number): string {
  const total = Math.max(0, Math.floor(msValue / 1000));
  return `${String(Math.floor(total / 60)).padStart(2, "0")}:${String(total % 60).padStart(2, "0")}`;
}

/** One progress line, e.g. "[00:12/01:10 measure] 20.0 flows/s, 3 in flight, 230 ok, 2 failed, p99 45.0 ms, …". */
export function formatProgress(p: ProgressSnapshot): string {
  return (
    `[${clock(p.elapsedMs)}/${clock(p.totalMs)} ${p.phase}] ${p.startedPerSecond.toFixed(1)} flows/s, ` +
    `${p.inFlight} in flight, ${p.succeeded} ok, ${p.failed} failed, p99 ${ms(p.p99Ms)} ms, ` +
    `${p.ordersConfirmed} orders confirmed (p99 ${ms(p.confirmP99Ms)} ms)`
  );
}
