import { z } from "zod";

/** Thrown at start when the environment does not describe a valid configuration. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

const port = z.coerce.number().int().min(0).max(65535);
const milliseconds = z.coerce.number().int().min(0);
const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

/** Reads a boolean environment variable written as true/false, 1/0, yes/no. */
export const booleanFromEnv = z
  .enum(["true", "false", "1", "0", "yes", "no", ""])
  .transform((value) => value === "true" || value === "1" || value === "yes");

/** Reads a `host:port` address of a downstream gRPC service. */
export const grpcAddress = z
  .string()
  .regex(/^(dns:\/\/\/)?[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/, "must be host:port, for example 127.0.0.1:50051");

/**
 * The variables every service understands (ARCHITECTURE.md, "Configuration"). Each service adds its
 * own with {@link loadConfig}'s `extra` schema.
 */
export function baseConfigSchema(defaults: { grpcPort: number; metricsPort: number }) {
  return z.object({
    GRPC_PORT: port.default(defaults.grpcPort),
    GRPC_HOST: z.string().min(1).default("0.0.0.0"),
    METRICS_PORT: port.default(defaults.metricsPort),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
      .optional(),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    /** Named prepared statements; turn off behind a transaction-mode pooler that cannot keep them. */
    DATABASE_PREPARED_STATEMENTS: booleanFromEnv.default(true),
    PGLITE_DIR: z.string().min(1).optional(),
    NATS_URL: z.string().min(1).optional(),
    NATS_SUBJECT_PREFIX: z
      .string()
      .regex(/^([A-Za-z0-9_-]+\.)*$/, "must be empty or dot-terminated tokens, for example test42.")
      .default(""),
    OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
    LOG_LEVEL: logLevel.default("info"),
    LOG_FORMAT: z.enum(["auto", "json", "pretty"]).default("auto"),
    SERVICE_VERSION: z.string().min(1).default("dev"),
    SHUTDOWN_DELAY_MS: milliseconds.default(0),
    SHUTDOWN_TIMEOUT_MS: milliseconds.default(10_000),
    FAULT_ERROR_RATE: z.coerce.number().min(0).max(1).default(0),
    FAULT_DELAY_MS: milliseconds.default(0),
    /** How long the event streams keep events (replay window). */
    EVENT_RETENTION_HOURS: z.coerce
      .number()
      .positive()
      .default(24 * 7),
    /** How long the dead-letter stream keeps dead letters: long enough to notice, fix and re-drive. */
    DEAD_LETTER_RETENTION_HOURS: z.coerce
      .number()
      .positive()
      .default(24 * 30),
    /**
     * How long consumers remember applied event ids (the inbox); unset: the longer of the two
     * retentions above, so a replayed event or a re-driven dead letter is still recognised.
     */
    INBOX_RETENTION_HOURS: z.coerce.number().positive().optional(),
    OUTBOX_POLL_INTERVAL_MS: milliseconds.min(10).default(1000),
    /** Test seam for crash tests; never set in production. */
    FAILPOINT: z.enum(["outbox-exit-after-publish"]).optional(),
  });
}

export type BaseConfig = z.infer<ReturnType<typeof baseConfigSchema>>;

/**
 * Validates the environment against the base schema plus a service's own variables. Empty strings
 * count as unset. Throws a {@link ConfigError} naming every bad variable and why.
 */
export function loadConfig<E extends z.ZodRawShape>(
  env: Record<string, string | undefined>,
  defaults: { grpcPort: number; metricsPort: number },
  extra: E,
): BaseConfig & z.infer<z.ZodObject<E>> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  const schema = baseConfigSchema(defaults).extend(extra);
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const variable = issue.path.join(".");
        const given = cleaned[variable];
        return `${variable}: ${issue.message}${given === undefined ? "" : ` (got ${JSON.stringify(given)})`}`;
      }),
    );
  }
  return result.data as BaseConfig & z.infer<z.ZodObject<E>>;
}

export { z };
