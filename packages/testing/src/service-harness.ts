import {
  type AgoraService,
  type ClientPolicies,
  createClient,
  type PromiseClient,
  type RunningService,
  type ServiceDefinitionLike,
} from "@agora/service-kit";
import pino from "pino";

/** A service started in-process for a test. */
export interface StartedService<C, S extends Record<string, unknown>> {
  readonly running: RunningService<C, S>;
  /** "127.0.0.1:<port>". */
  readonly address: string;
  /** URL of its /metrics endpoint. */
  readonly metricsUrl: string;
  /** A typed promise client to one of its gRPC services (closed by stop). */
  client<D extends ServiceDefinitionLike>(definition: D, policies?: ClientPolicies): PromiseClient<D>;
  stop(): Promise<void>;
}

/**
 * Starts `service` in this process on free ports (GRPC_PORT=0, METRICS_PORT=0) with `env` on top of
 * quiet defaults, and hands back typed clients. Without DATABASE_URL the service gets an in-memory PGlite.
 */
export async function startService<C, S extends Record<string, unknown>>(
  service: AgoraService<C, S>,
  env: Record<string, string | undefined> = {},
): Promise<StartedService<C, S>> {
  const running = await service.start({
    env: {
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: "0",
      METRICS_PORT: "0",
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
      LOG_FORMAT: "json",
      ...env,
    },
  });
  const clients: Array<{ close(): void }> = [];
  const logger = pino({ level: "silent" });
  return {
    running,
    address: running.address,
    metricsUrl: `http://127.0.0.1:${running.metricsPort}/metrics`,
    client(definition, policies) {
      const client = createClient(definition, running.address, {
        downstream: service.name,
        logger,
        policies: policies ?? { maxAttempts: 1, breaker: false },
      });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients) client.close();
      await running.stop();
    },
  };
}
