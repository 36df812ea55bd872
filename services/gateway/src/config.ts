import { grpcAddress, z } from "@agora/service-kit";
import { addressVariableOf, downstreamDefaultPorts, parseDownstreamAddresses } from "./downstreams";

const port = z.coerce.number().int().min(0).max(65535);
const positiveMs = z.coerce.number().int().min(1);

/**
 * The gateway's own environment variables (on top of the kit's LOG_LEVEL, METRICS_PORT,
 * SHUTDOWN_DELAY_MS, SHUTDOWN_TIMEOUT_MS …). docs/gateway.md lists them.
 */
export const gatewayConfigShape = {
  /** Port of the HTTP/JSON API. */
  HTTP_PORT: port.default(8080),
  /** Interface the HTTP API listens on. */
  HTTP_HOST: z.string().min(1).default("0.0.0.0"),
  CATALOG_ADDR: grpcAddress.default(`127.0.0.1:${downstreamDefaultPorts.catalog}`),
  INVENTORY_ADDR: grpcAddress.default(`127.0.0.1:${downstreamDefaultPorts.inventory}`),
  ORDER_ADDR: grpcAddress.default(`127.0.0.1:${downstreamDefaultPorts.order}`),
  PAYMENT_ADDR: grpcAddress.default(`127.0.0.1:${downstreamDefaultPorts.payment}`),
  SHIPPING_ADDR: grpcAddress.default(`127.0.0.1:${downstreamDefaultPorts.shipping}`),
  IDENTITY_ADDR: grpcAddress.default(`127.0.0.1:${downstreamDefaultPorts.identity}`),
  NOTIFICATION_ADDR: grpcAddress.default(`127.0.0.1:${downstreamDefaultPorts.notification}`),
  ORDER_HISTORY_ADDR: grpcAddress.default(`127.0.0.1:${downstreamDefaultPorts["order-history"]}`),
  /** Addresses of downstreams without a variable of their own: "name=host:port,…". */
  DOWNSTREAM_ADDRS: z
    .string()
    .default("")
    .refine(
      (text) => {
        try {
          parseDownstreamAddresses(text);
          return true;
        } catch {
          return false;
        }
      },
      { message: "must be name=host:port entries separated by commas" },
    ),
  /** A FileDescriptorSet (buf build -o) to take routes from instead of the compiled contracts. */
  DESCRIPTOR_SET_PATH: z.string().min(1).optional(),
  /** Requests per client per window; 0 turns rate limiting off. */
  RATE_LIMIT_MAX: z.coerce.number().int().min(0).default(100),
  /** Length of the rate-limit window. */
  RATE_LIMIT_WINDOW_MS: positiveMs.default(60_000),
  /** Trust X-Forwarded-For from proxies: "false", "true", a hop count, or comma-separated addresses/CIDRs. */
  TRUST_PROXY: z.string().min(1).default("false"),
  /** Deadline of a downstream call (including retries). */
  DOWNSTREAM_TIMEOUT_MS: positiveMs.default(5_000),
  /** Deadline of the stock lookup of the composed product route; past it, stock is UNKNOWN. */
  STOCK_TIMEOUT_MS: positiveMs.default(1_000),
  /** Interval of heartbeat comments on server-sent-event streams. */
  SSE_HEARTBEAT_MS: positiveMs.default(15_000),
  /** Minimum interval between JWKS refreshes caused by unknown key ids. */
  JWKS_REFRESH_INTERVAL_MS: positiveMs.default(10_000),
  /** Age after which cached JWKS keys are refreshed in the background. */
  JWKS_MAX_AGE_MS: positiveMs.default(300_000),
  /** Largest accepted request body. */
  BODY_LIMIT_BYTES: positiveMs.default(1_048_576),
};

/** TRUST_PROXY as fastify's `trustProxy` option (a hop count becomes "trust the nearest n hops"). */
export function trustProxyOf(value: string): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (value === "false") return false;
  if (value === "true") return true;
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    return (_address, hop) => hop < hops;
  }
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

/** The address of a downstream: its own variable (CATALOG_ADDR …), else DOWNSTREAM_ADDRS. */
export function downstreamAddressResolver(
  config: Readonly<Record<string, unknown>> & { DOWNSTREAM_ADDRS: string },
): (downstream: string) => string | undefined {
  const extra = parseDownstreamAddresses(config.DOWNSTREAM_ADDRS);
  return (downstream) => {
    const own = config[addressVariableOf(downstream)];
    return typeof own === "string" ? own : extra.get(downstream);
  };
}
