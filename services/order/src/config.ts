import { ConfigError, grpcAddress, z } from "@agora/service-kit";
import type { SagaSettings } from "./saga/place-order-saga";

const milliseconds = z.coerce.number().int().positive();

/** The order service's own environment variables (the kit adds GRPC_PORT, DATABASE_URL, NATS_URL …). */
export const orderConfig = {
  CATALOG_ADDR: grpcAddress.default("127.0.0.1:50051"),
  INVENTORY_ADDR: grpcAddress.default("127.0.0.1:50052"),
  PAYMENT_ADDR: grpcAddress.default("127.0.0.1:50054"),
  /** Shipping, which a CONFIRMED order's cancellation asks to stop the shipment (CancelShipment). */
  SHIPPING_ADDR: grpcAddress.default("127.0.0.1:50055"),
  /** A saga that has not reserved, authorized and committed by then compensates and ends REJECTED. */
  SAGA_DEADLINE_MS: milliseconds.default(60_000),
  /** Deadline of one saga call to inventory, payment or shipping, the kit's retries included. */
  SAGA_STEP_TIMEOUT_MS: milliseconds.default(5_000),
  /** How long the saga's circuit to inventory, payment or shipping stays open before a trial call (5 failures open it). */
  SAGA_BREAKER_HALF_OPEN_MS: milliseconds.default(5_000),
  /** How long an executor owns a saga it claimed; another replica takes over after that. */
  SAGA_LEASE_MS: milliseconds.default(30_000),
  /** Retry delay of a failed step: doubles from the initial value up to the maximum (with jitter). */
  SAGA_RETRY_INITIAL_MS: milliseconds.default(200),
  SAGA_RETRY_MAX_MS: milliseconds.default(10_000),
  /** Failed attempts of a compensation step before the order is parked in NEEDS_ATTENTION. */
  SAGA_COMPENSATION_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(20),
  /** The sweep: how often an idle executor looks for due, stuck or overdue sagas. */
  SAGA_SWEEP_INTERVAL_MS: milliseconds.default(1_000),
  /** Sagas one replica runs at once. */
  SAGA_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(16),
  /** WatchOrder (and CancelOrder's wait) re-read the order this often when no notification arrives. */
  WATCH_POLL_INTERVAL_MS: milliseconds.default(2_000),
  /** How long CancelOrder waits for the compensation before answering UNAVAILABLE (it goes on). */
  CANCEL_WAIT_MS: milliseconds.default(10_000),
};

/** The order service's validated configuration (its own part). */
export type OrderConfig = z.infer<z.ZodObject<typeof orderConfig>>;

/**
 * Checks what the schema cannot express per variable and returns the saga settings: the lease must
 * outlast a step (a compensation step makes two calls), so a working executor is never overtaken.
 */
export function checkSagaConfig(config: OrderConfig): SagaSettings {
  const problems: string[] = [];
  if (config.SAGA_LEASE_MS <= 2 * config.SAGA_STEP_TIMEOUT_MS) {
    problems.push(
      `SAGA_LEASE_MS: must be more than twice SAGA_STEP_TIMEOUT_MS (${config.SAGA_STEP_TIMEOUT_MS}) (got ${config.SAGA_LEASE_MS})`,
    );
  }
  if (config.SAGA_RETRY_MAX_MS < config.SAGA_RETRY_INITIAL_MS) {
    problems.push(
      `SAGA_RETRY_MAX_MS: must not be below SAGA_RETRY_INITIAL_MS (${config.SAGA_RETRY_INITIAL_MS}) (got ${config.SAGA_RETRY_MAX_MS})`,
    );
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    retryInitialMs: config.SAGA_RETRY_INITIAL_MS,
    retryMaxMs: config.SAGA_RETRY_MAX_MS,
    maxCompensationAttempts: config.SAGA_COMPENSATION_MAX_ATTEMPTS,
  };
}
