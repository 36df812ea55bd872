import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Latency buckets in seconds for RPCs: 1 ms to 10 s. */
export const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The RED metrics (rate, errors, duration) of gRPC calls, named like go-grpc-prometheus. */
export interface GrpcMetrics {
  serverStarted: Counter<"grpc_type" | "grpc_service" | "grpc_method">;
  serverHandled: Counter<"grpc_type" | "grpc_service" | "grpc_method" | "grpc_code">;
  serverHandlingSeconds: Histogram<"grpc_type" | "grpc_service" | "grpc_method" | "grpc_code">;
  clientHandled: Counter<"grpc_service" | "grpc_method" | "grpc_code">;
  clientHandlingSeconds: Histogram<"grpc_service" | "grpc_method" | "grpc_code">;
  clientRetries: Counter<"grpc_service" | "grpc_method">;
  circuitState: Gauge<"downstream">;
}

/** A registry per service (so several services can share a process in tests) with process metrics. */
export function createMetricsRegistry(service: string, version: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service, version });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Registers the gRPC RED metrics on `registry`. */
export function createGrpcMetrics(registry: Registry): GrpcMetrics {
  const serverLabels = ["grpc_type", "grpc_service", "grpc_method"] as const;
  return {
    serverStarted: new Counter({
      name: "grpc_server_started_total",
      help: "RPCs started on the server.",
      labelNames: serverLabels,
      registers: [registry],
    }),
    serverHandled: new Counter({
      name: "grpc_server_handled_total",
      help: "RPCs completed on the server, by status code.",
      labelNames: [...serverLabels, "grpc_code"],
      registers: [registry],
    }),
    serverHandlingSeconds: new Histogram({
      name: "grpc_server_handling_seconds",
      help: "Time from receiving an RPC to sending its status.",
      labelNames: [...serverLabels, "grpc_code"],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    clientHandled: new Counter({
      name: "grpc_client_handled_total",
      help: "Outgoing RPCs completed (after retries), by status code.",
      labelNames: ["grpc_service", "grpc_method", "grpc_code"],
      registers: [registry],
    }),
    clientHandlingSeconds: new Histogram({
      name: "grpc_client_handling_seconds",
      help: "Time of an outgoing RPC including retries.",
      labelNames: ["grpc_service", "grpc_method", "grpc_code"],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    clientRetries: new Counter({
      name: "grpc_client_retries_total",
      help: "Retried attempts of outgoing RPCs.",
      labelNames: ["grpc_service", "grpc_method"],
      registers: [registry],
    }),
    circuitState: new Gauge({
      name: "agora_circuit_breaker_state",
      help: "Circuit breaker per downstream: 0 closed, 1 open, 2 half-open, 3 isolated.",
      labelNames: ["downstream"],
      registers: [registry],
    }),
  };
}

/** An HTTP server answering GET /metrics in the Prometheus text format. */
export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `registry` on `port` (0 picks a free port). */
export async function startMetricsServer(registry: Registry, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    if (request.method === "GET" && request.url?.split("?")[0] === "/metrics") {
      registry
        .metrics()
        .then((body) => {
          response.writeHead(200, { "content-type": registry.contentType });
          response.end(body);
        })
        .catch((error: unknown) => {
          response.writeHead(500, { "content-type": "text/plain" });
          response.end(String(error));
        });
      return;
    }
    response.writeHead(404, { "content-type": "application/json" });
    response.end(JSON.stringify({ error: { code: "NOT_FOUND", message: "metrics are served at GET /metrics" } }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
