import { buildReport, formatProgress, formatReport, type ReportSettings } from "../src/report";
import { RunStats } from "../src/stats";

const settings: ReportSettings = {
  mode: "http",
  rate: 20,
  arrival: "poisson",
  durationSeconds: 10,
  warmupSeconds: 2,
  users: 5,
  flows: { browse: 3, "place-order": 1 },
  follow: "stream",
  until: "terminal",
  timeoutMs: 10_000,
  orderTimeoutMs: 60_000,
  maxInFlight: 100,
  seed: 9,
};

function sampleStats(): RunStats {
  const stats = new RunStats(["browse", "place-order"]);
  stats.offered = 200;
  stats.dropped = 2;
  const browse = stats.flow("browse");
  browse.started = 150;
  browse.succeeded = 140;
  browse.failed = 10;
  browse.errors.set("http:503", 10);
  for (let i = 0; i < 140; i++) browse.latency.record(10 + (i % 10));
  const list = browse.step("list-products");
  for (let i = 0; i < 150; i++) list.success(2);
  const search = browse.step("search-products");
  for (let i = 0; i < 140; i++) search.success(5);
  for (let i = 0; i < 10; i++) search.failure("http:503");
  stats.sample("http:503", "HTTP 503 UNAVAILABLE: catalog is failing");
  const order = stats.flow("place-order");
  order.started = 48;
  order.succeeded = 47;
  order.incomplete = 1;
  for (let i = 0; i < 47; i++) order.latency.record(300);
  for (let i = 0; i < 48; i++) order.step("place-order").success(20);
  order.errors.set("stream-ended", 0);
  stats.orders.placed = 48;
  stats.orders.outcomes.set("ORDER_STATUS_SHIPPED", 45);
  stats.orders.outcomes.set("ORDER_STATUS_REJECTED", 2);
  stats.orders.outcomes.set("ABORTED", 1);
  for (let i = 0; i < 45; i++) {
    stats.orders.toConfirmed.record(100 + i);
    stats.orders.toTerminal.record(250 + i);
  }
  for (let i = 0; i < 200; i++) stats.lateness.record(0.2);
  return stats;
}

describe("the report", () => {
  const report = buildReport({
    stats: sampleStats(),
    target: "http://gateway:8080",
    settings,
    startedAt: new Date("2026-11-23T10:00:00Z"),
    finishedAt: new Date("2026-11-23T10:00:13Z"),
    windowMs: 10_000,
    interrupted: false,
  });

  it("adds up totals, rates and the error rate (dropped arrivals count as errors)", () => {
    expect(report.schema).toBe("agora-loadgen/v1");
    expect(report.totals).toEqual({
      offered: 200,
      offeredPerSecond: 20,
      started: 198,
      succeeded: 187,
      failed: 10,
      incomplete: 1,
      dropped: 2,
      errorRate: Math.round((12 / 199) * 1e6) / 1e6,
      flowsPerSecond: 18.7,
      requests: 348,
      requestsPerSecond: 34.8,
    });
    expect(report.flows.browse?.perSecond).toBe(14);
    expect(report.flows.browse?.steps["search-products"]).toMatchObject({
      requests: 150,
      succeeded: 140,
      failed: 10,
      perSecond: 14,
      errors: { "http:503": 10 },
    });
    expect(Math.abs((report.flows.browse?.latencyMs.p50 ?? 0) - 14)).toBeLessThan(0.015);
    expect(report.flows.browse?.latencyMs.max).toBe(19);
  });

  it("reports order completion separately, and every error code once with a sample", () => {
    expect(report.orders).toMatchObject({
      placed: 48,
      confirmed: 45,
      confirmedPerSecond: 4.5,
      outcomes: { ORDER_STATUS_SHIPPED: 45, ORDER_STATUS_REJECTED: 2, ABORTED: 1 },
    });
    expect(Math.abs(report.orders.toConfirmedMs.p50 - 122)).toBeLessThan(0.13);
    expect(report.orders.toTerminalMs.max).toBe(294);
    expect(report.errors).toEqual([
      { code: "http:503", count: 10, sample: "HTTP 503 UNAVAILABLE: catalog is failing" },
    ]);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it("prints a readable table per flow with its steps indented, the orders and the errors", () => {
    const text = formatReport(report);
    const lines = text.split("\n");
    expect(lines[0]).toBe("Agora load test against http://gateway:8080");
    expect(text).toContain(
      "20.00 flows/s (poisson) for 10 s after 2 s warm-up, 5 virtual users, flows browse=3,place-order=1",
    );
    expect(text).toContain(
      "200 flows offered (20.00/s), 187 succeeded (18.70/s), 10 failed, 1 incomplete, 2 dropped; error rate 6.03 %",
    );
    const header = lines.find((line) => line.startsWith("flow / step"));
    expect(header).toMatch(/count\s+ok\s+err\s+ok\/s\s+p50 ms\s+p90 ms\s+p99 ms\s+max ms\s+errors/);
    expect(lines.find((line) => line.startsWith("browse "))).toMatch(
      /^browse\s+150\s+140\s+10\s+14\.00\s+14\.01\s+18\.02\s+19\.00\s+19\.00\s+http:503×10$/,
    );
    expect(lines.find((line) => line.startsWith("  search-products"))).toMatch(
      /^ {2}search-products\s+150\s+140\s+10\s+14\.00\s+5\.00\s+5\.00\s+5\.00\s+5\.00\s+http:503×10$/,
    );
    expect(text).toContain("orders: 48 placed, 45 confirmed (4.50/s); outcomes SHIPPED 45, REJECTED 2, ABORTED 1");
    expect(lines.find((line) => line.startsWith("placement → CONFIRMED"))).toMatch(
      /45\s+122\.0\s+140\.0\s+144\.0\s+144\.0$/,
    );
    expect(text).toMatch(/errors:\n {2}http:503\s+10 {2}HTTP 503 UNAVAILABLE: catalog is failing/);
    expect(text).toContain("scheduler lateness p99 0.20 ms, max 0.20 ms");
    // All columns of the table line up.
    const tableLines = lines.slice(lines.indexOf(header as string), lines.indexOf(header as string) + 6);
    const positions = tableLines.map((line) => line.indexOf(" ", line.search(/\d/)));
    expect(new Set(positions.slice(2)).size).toBe(1);
  });

  it("formats the progress line", () => {
    expect(
      formatProgress({
        phase: "measure",
        elapsedMs: 72_500,
        totalMs: 600_000,
        startedPerSecond: 19.96,
        inFlight: 4,
        succeeded: 1200,
        failed: 3,
        p99Ms: 45.123,
        ordersConfirmed: 120,
        confirmP99Ms: 180,
      }),
    ).toBe(
      "[01:12/10:00 measure] 20.0 flows/s, 4 in flight, 1200 ok, 3 failed, p99 45.12 ms, 120 orders confirmed (p99 180.0 ms)",
    );
  });
});
