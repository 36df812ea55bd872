import { LatencyHistogram } from "../src/histogram";

describe("LatencyHistogram", () => {
  it("reports percentiles within 0.1 % of the exact values", () => {
    const histogram = new LatencyHistogram();
    for (let ms = 1; ms <= 10_000; ms++) histogram.record(ms);
    const summary = histogram.summary();
    expect(summary.count).toBe(10_000);
    expect(summary.min).toBe(1);
    expect(summary.max).toBeCloseTo(10_000, -1);
    expect(Math.abs(summary.p50 - 5000) / 5000).toBeLessThan(0.001);
    expect(Math.abs(summary.p90 - 9000) / 9000).toBeLessThan(0.001);
    expect(Math.abs(summary.p99 - 9900) / 9900).toBeLessThan(0.001);
    expect(Math.abs(summary.p999 - 9990) / 9990).toBeLessThan(0.001);
    expect(summary.mean).toBeCloseTo(5000.5, -1);
  });

  it("resolves sub-millisecond latencies to the microsecond", () => {
    const histogram = new LatencyHistogram();
    histogram.record(0.25);
    histogram.record(0.75);
    expect(histogram.summary().min).toBe(0.25);
    expect(histogram.summary().max).toBe(0.75);
  });

  it("shows a slow tail that an average would hide", () => {
    const histogram = new LatencyHistogram();
    for (let i = 0; i < 980; i++) histogram.record(10);
    for (let i = 0; i < 20; i++) histogram.record(2000);
    const summary = histogram.summary();
    expect(Math.abs(summary.p50 - 10)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(summary.p90 - 10)).toBeLessThanOrEqual(0.01);
    expect(summary.p99).toBeGreaterThanOrEqual(1999);
    expect(summary.max).toBeGreaterThanOrEqual(1999);
    expect(summary.p99).toBeLessThanOrEqual(summary.max);
  });

  it("is all zeros when empty, clamps absurd values and merges", () => {
    const empty = new LatencyHistogram();
    expect(empty.summary()).toEqual({ count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
    expect(empty.percentile(99)).toBe(0);
    const a = new LatencyHistogram();
    a.record(-5);
    a.record(10 * 3_600_000);
    expect(a.summary().min).toBe(0);
    expect(a.summary().max).toBeGreaterThanOrEqual(3_599_000);
    const b = new LatencyHistogram();
    b.record(42);
    a.add(b);
    expect(a.count).toBe(3);
    a.reset();
    expect(a.count).toBe(0);
  });
});
