/** A Prometheus instant query: the first sample's value, or undefined when the result is empty or NaN. */
export interface Metrics {
  query(promql: string): Promise<number | undefined>;
}

/** Prometheus over its HTTP API (GET /api/v1/query). */
export class PrometheusMetrics implements Metrics {
  constructor(
    private readonly baseUrl: string,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  async query(promql: string): Promise<number | undefined> {
    const url = `${this.baseUrl.replace(/\/$/, "")}/api/v1/query?query=${encodeURIComponent(promql)}`;
    const res = await this.fetchImpl(url, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`Prometheus answered HTTP ${res.status} for ${promql}`);
    const body = (await res.json()) as {
      status: string;
      error?: string;
      data?: { resultType: string; result: { value: [number, string] }[] };
    };
    if (body.status !== "success") throw new Error(`Prometheus query failed: ${body.error ?? body.status}`);
    const sample = body.data?.result[0]?.value[1];
    if (sample === undefined) return undefined;
    const n = Number(sample);
    return Number.isFinite(n) ? n : undefined;
  }
}
