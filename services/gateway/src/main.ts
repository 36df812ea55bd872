import { readFileSync } from "node:fs";
import { descriptorSetBytes } from "@agora/contracts";
import { defineService } from "@agora/service-kit";
import { downstreamAddressResolver, gatewayConfigShape, trustProxyOf } from "./config";
import type { ClientFactory } from "./downstreams";
import { createGateway } from "./gateway";

/** The HTTP/JSON edge: REST routes generated from proto/ annotations, transcoded to gRPC. */
export const gatewayService = defineService({
  name: "gateway",
  ports: { metrics: 9450 },
  config: gatewayConfigShape,
  async setup({ config, faults, logger, registry, client, isServing }) {
    const gateway = await createGateway({
      descriptorSet: config.DESCRIPTOR_SET_PATH ? readFileSync(config.DESCRIPTOR_SET_PATH) : descriptorSetBytes(),
      addressOf: downstreamAddressResolver(config),
      createClient: client as ClientFactory,
      logger,
      metricsRegistry: registry,
      isServing,
      host: config.HTTP_HOST,
      port: config.HTTP_PORT,
      version: config.SERVICE_VERSION,
      trustProxy: trustProxyOf(config.TRUST_PROXY),
      bodyLimitBytes: config.BODY_LIMIT_BYTES,
      rateLimit: { max: config.RATE_LIMIT_MAX, windowMs: config.RATE_LIMIT_WINDOW_MS },
      downstreamTimeoutMs: config.DOWNSTREAM_TIMEOUT_MS,
      stockTimeoutMs: config.STOCK_TIMEOUT_MS,
      sseHeartbeatMs: config.SSE_HEARTBEAT_MS,
      jwks: { minRefreshIntervalMs: config.JWKS_REFRESH_INTERVAL_MS, maxAgeMs: config.JWKS_MAX_AGE_MS },
      shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
      faults,
    });
    return {
      grpc: [],
      background: [{ name: "http", start: () => gateway.start().then(() => undefined), stop: () => gateway.stop() }],
    };
  },
});

if (require.main === module) gatewayService.main();
