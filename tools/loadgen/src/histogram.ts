import { build, type Histogram } from "hdr-histogram-js";

/** Latency percentiles in milliseconds (microsecond resolution, 3 significant digits). */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Longest latency a histogram tracks exactly: one hour. Longer values are clamped to it. */
export const highestTrackableMs = 3_600_000;

function roundMs(microseconds: number): number {
  return Math.round(microseconds) / 1000;
}

/**
 * An HDR histogram of latencies: records milliseconds (as microseconds, 3 significant digits, so any
 * percentile is within 0.1 % of the true value) in constant memory however many values it holds.
 */
export class LatencyHistogram {
  private readonly histogram: Histogram = build({
    bitBucketSize: 32,
    useWebAssembly: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: highestTrackableMs * 1000,
    numberOfSignificantValueDigits: 3,
    autoResize: false,
  });

  /** Records one latency in milliseconds (negative values count as 0, values over an hour as an hour). */
  record(ms: number): void {
    const microseconds = Math.min(Math.max(Math.round(ms * 1000), 0), highestTrackableMs * 1000);
    this.histogram.recordValue(microseconds);
  }

  /** Number of recorded values. */
  get count(): number {
    return this.histogram.totalCount;
  }

  /** Adds every value of `other`. */
  add(other: LatencyHistogram): void {
    this.histogram.add(other.histogram);
  }

  /** Forgets every value. */
  reset(): void {
    this.histogram.reset();
  }

  /**
   * The value at a percentile (0–100) in milliseconds; 0 when empty. HDR reports the highest value
   * equivalent to the recorded one (within 0.1 %), capped here at the largest value recorded.
   */
  percentile(percentile: number): number {
    if (this.count === 0) return 0;
    return roundMs(Math.min(this.histogram.getValueAtPercentile(percentile), this.histogram.maxValue));
  }

  /** Count, min, mean, p50, p90, p99, p99.9 and max in milliseconds (all 0 when empty). */
  summary(): LatencySummary {
    if (this.count === 0) return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    const h = this.histogram;
    return {
      count: h.totalCount,
      min: this.percentile(0),
      mean: roundMs(h.mean),
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: roundMs(h.maxValue),
    };
  }
}
