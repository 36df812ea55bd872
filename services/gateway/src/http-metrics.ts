import { Counter, Gauge, Histogram, latencyBuckets, type Registry } from "@agora/service-kit";

/** RED metrics of the HTTP API, registered on the kit's registry (served on the metrics port). */
export interface HttpMetrics {
  requests: Counter<"method" | "route" | "status">;
  duration: Histogram<"method" | "route" | "status">;
  openStreams: Gauge<"route">;
}

/** Registers `http_requests_total`, `http_request_duration_seconds` and `http_open_event_streams`. */
export function createHttpMetrics(registry: Registry): HttpMetrics {
  return {
    requests: new Counter({
      name: "http_requests_total",
      help: "HTTP requests answered, by method, route template and status.",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    duration: new Histogram({
      name: "http_request_duration_seconds",
      help: "Time from receiving an HTTP request to the end of its response (event streams: their lifetime).",
      labelNames: ["method", "route", "status"],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    openStreams: new Gauge({
      name: "http_open_event_streams",
      help: "Server-sent-event streams currently open.",
      labelNames: ["route"],
      registers: [registry],
    }),
  };
}
