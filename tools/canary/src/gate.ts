import type { Metrics } from "./prometheus";

/** What the gate measures, for one workload and version. */
export interface GateTarget {
  namespace: string;
  /** Deployment name of the canary, e.g. order-v2 (Istio's destination_workload). */
  workload: string;
  /** Its version label, e.g. v2 (Istio's destination_version). */
  version: string;
}

/** Thresholds of the gate. */
export interface GateThresholds {
  /** Prometheus range of the rates, e.g. "1m". */
  window: string;
  /** Lowest acceptable share of successful requests, 0..1. */
  minSuccessRate: number;
  /** Highest acceptable p99 latency in milliseconds. */
  maxP99Ms: number;
  /** Fewer requests than this in the window cannot be judged. */
  minRequests: number;
}

/** The gate's verdict on one step. */
export interface GateResult {
  verdict: "pass" | "fail" | "insufficient-traffic";
  requests: number;
  successRate?: number;
  p99Ms?: number;
  reason: string;
}

/**
 * Server-side failures: gRPC UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and
 * DATA_LOSS, or an HTTP 5xx. Client errors (NOT_FOUND, INVALID_ARGUMENT …) are the caller's problem.
 */
export const FAILED_GRPC_CODES = "2|4|12|13|14|15";

function selector(t: GateTarget, extra = ""): string {
  return `reporter="destination",destination_workload_namespace="${t.namespace}",destination_workload="${t.workload}",destination_version="${t.version}"${extra}`;
}

/**
 * The PromQL the gate runs, from Istio's standard metrics. Those carry no request path or gRPC method
 * label, so streaming requests (WatchOrder, the gateway's order events) cannot be filtered out: each
 * counts once, with its whole life as its duration. The traffic driven during a canary therefore
 * follows orders by polling (the chart's loadgen Job, scripts/k8s-smoke.sh); see istio/README.md.
 */
export function gateQueries(t: GateTarget, window: string): { requests: string; failures: string; p99: string } {
  return {
    requests: `sum(increase(istio_requests_total{${selector(t)}}[${window}]))`,
    // gRPC failures, plus 5xx of plain HTTP requests (no grpc-status), each counted once.
    failures:
      `(sum(increase(istio_requests_total{${selector(t, `,grpc_response_status=~"${FAILED_GRPC_CODES}"`)}}[${window}])) or vector(0))` +
      ` + (sum(increase(istio_requests_total{${selector(t, ',grpc_response_status="",response_code=~"5.."')}}[${window}])) or vector(0))`,
    p99: `histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{${selector(t)}}[${window}])))`,
  };
}

/** Queries Prometheus and judges the canary. */
export async function evaluateGate(metrics: Metrics, t: GateTarget, th: GateThresholds): Promise<GateResult> {
  const q = gateQueries(t, th.window);
  const requests = (await metrics.query(q.requests)) ?? 0;
  if (requests < th.minRequests) {
    return {
      verdict: "insufficient-traffic",
      requests,
      reason: `${requests.toFixed(0)} requests in ${th.window}, need ${th.minRequests}`,
    };
  }
  const failures = (await metrics.query(q.failures)) ?? 0;
  const successRate = Math.max(0, 1 - failures / requests);
  const p99Ms = await metrics.query(q.p99);
  const problems: string[] = [];
  if (successRate < th.minSuccessRate) {
    problems.push(`success rate ${(successRate * 100).toFixed(2)}% < ${(th.minSuccessRate * 100).toFixed(2)}%`);
  }
  if (p99Ms === undefined) problems.push("no latency samples");
  else if (p99Ms > th.maxP99Ms) problems.push(`p99 ${p99Ms.toFixed(0)} ms > ${th.maxP99Ms} ms`);
  return {
    verdict: problems.length === 0 ? "pass" : "fail",
    requests,
    successRate,
    p99Ms,
    reason: problems.length === 0 ? "within thresholds" : problems.join("; "),
  };
}
