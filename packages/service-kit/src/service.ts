import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { EventType } from "@agora/contracts";
import type { Tracer } from "@opentelemetry/api";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { type BaseConfig, ConfigError, loadConfig, type z } from "./config";
import { type Database, type MigrationSet, openDatabase, redact } from "./db/database";
import { createInboxPruner } from "./events/inbox-pruner";
import { EventNaming } from "./events/naming";
import { NatsLink } from "./events/nats-link";
import { Outbox } from "./events/outbox";
import { OutboxRelay } from "./events/outbox-relay";
import { EventSubscription, type SubscriptionOptions } from "./events/subscription";
import { type ClientPolicies, createClient, type PromiseClient } from "./grpc/client";
import { agoraDescriptors } from "./grpc/descriptor-index";
import { GrpcServer } from "./grpc/server";
import { bindService, type FaultInjection, type ServiceBinding, type ServiceHandlers } from "./grpc/service-binding";
import type { ServiceDefinitionLike } from "./grpc/types";
import { createLogger } from "./logger";
import { createGrpcMetrics, createMetricsRegistry, type GrpcMetrics, startMetricsServer } from "./metrics";
import { startTracing } from "./tracing/tracing";

/** The kit's own tables (outbox, aggregate versions, inbox), applied before a service's migrations. */
export const eventTablesMigrations: MigrationSet = {
  folder: join(__dirname, "..", "drizzle-events"),
  table: "__agora_event_migrations",
};

/** Work that runs beside the gRPC server: consumers, relays, sweepers. Stopped in reverse order. */
export interface BackgroundTask {
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

/** What a service's setup returns: its gRPC services and background work. */
export interface ServiceParts {
  /** gRPC services to serve; must be empty for a service without a gRPC port (the HTTP gateway). */
  grpc: ServiceBinding[];
  background?: BackgroundTask[];
}

/** What a service's setup gets from the kit. */
export interface SetupContext<C, S extends Record<string, unknown>> {
  readonly config: C;
  readonly logger: Logger;
  readonly registry: Registry;
  readonly metrics: GrpcMetrics;
  /** The service's database, migrated (only when the service declares one). */
  readonly database: Database<S>;
  /**
   * FAULT_ERROR_RATE and FAULT_DELAY_MS: what `bind` injects into every gRPC call; a service serving
   * another protocol applies them with {@link injectFaults}.
   */
  readonly faults: FaultInjection;
  /** Binds promise-based handlers to a service definition (with logging, errors, faults). */
  bind<D extends ServiceDefinitionLike>(definition: D, handlers: ServiceHandlers<D>): ServiceBinding;
  /** A resilient client to a downstream service, closed at shutdown. */
  client<D extends ServiceDefinitionLike>(
    definition: D,
    address: string,
    options: { downstream: string; policies?: ClientPolicies },
  ): PromiseClient<D>;
  /** Runs `hook` at shutdown, after the gRPC server drained and background work stopped. */
  onShutdown(hook: () => Promise<void> | void): void;
  /** The transactional outbox for the events declared in `events.publishes`. */
  readonly outbox: Outbox;
  /**
   * Consumes events of one context through the inbox (started once the service serves, stopped
   * before the outbox's last flush at shutdown).
   */
  subscribe(options: SubscriptionOptions<S>): void;
  /** The service's NATS connection and subject naming, for tools such as replay (needs NATS_URL). */
  events(): { nats: NatsLink; naming: EventNaming };
  /** The service's tracer (no-op when OTEL_EXPORTER_OTLP_ENDPOINT is unset). */
  readonly tracer: Tracer;
  /** Aborted when the start is cancelled (a stop signal while starting): long setups may watch it. */
  readonly signal: AbortSignal;
  /**
   * True from the moment everything started until shutdown begins: what gRPC health reports as
   * SERVING, and what an HTTP service should answer on its readiness endpoint.
   */
  isServing(): boolean;
}

/** A service as its main.ts declares it. */
export interface ServiceSpec<E extends z.ZodRawShape, S extends Record<string, unknown>> {
  /** Short name, e.g. "catalog"; used in logs, metrics and the database application name. */
  name: string;
  /**
   * Default ports (ARCHITECTURE.md); GRPC_PORT and METRICS_PORT override them. A service without
   * `grpc` (the HTTP gateway) runs no gRPC server and serves through its background tasks.
   */
  ports: { grpc?: number; metrics: number };
  /** The service's own environment variables. */
  config?: E;
  /** The drizzle schema and migrations folder, for services that own data. */
  database?: { schema: S; migrationsFolder: string };
  /** Events the service publishes through its outbox; their contexts' streams are provisioned at start. */
  events?: { publishes: readonly EventType<unknown>[] };
  setup(context: SetupContext<BaseConfig & z.infer<z.ZodObject<E>>, S>): Promise<ServiceParts> | ServiceParts;
}

/** A started service. */
export interface RunningService<C = BaseConfig, S extends Record<string, unknown> = Record<string, never>> {
  readonly name: string;
  readonly config: C;
  readonly grpcPort: number;
  readonly metricsPort: number;
  /** "127.0.0.1:<grpcPort>", for clients in the same machine. */
  readonly address: string;
  readonly logger: Logger;
  readonly database: Database<S> | undefined;
  /** Health NOT_SERVING, wait SHUTDOWN_DELAY_MS, drain, stop background work, close everything. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Environment to read configuration from; process.env by default. */
  env?: Record<string, string | undefined>;
  /** Log destination (tests capture lines with it). */
  logDestination?: NodeJS.WritableStream;
  /**
   * Cancels a start in progress (SIGTERM while starting): what already started is stopped (ports,
   * background work, NATS, database) and start() rejects with {@link StartCancelledError}.
   */
  signal?: AbortSignal;
}

/** start() was cancelled through its signal; everything it had started is stopped again. */
export class StartCancelledError extends Error {
  override name = "StartCancelledError";
  constructor(
    service: string,
    /** False when stopping what had started failed somewhere (logged). */
    readonly cleanStop: boolean,
  ) {
    super(`${service}: start cancelled`);
  }
}

/** A defined service: start it in-process (tests) or run it as the process's main (main.ts). */
export interface AgoraService<C, S extends Record<string, unknown>> {
  readonly name: string;
  readonly ports: { grpc?: number; metrics: number };
  start(options?: StartOptions): Promise<RunningService<C, S>>;
  /**
   * Starts from process.env and stops gracefully on SIGTERM/SIGINT, then exits 0. A signal while it
   * is still starting cancels the start: what already started is stopped, then it exits (0 when that
   * went cleanly).
   */
  main(): void;
}

/** How long a service told to stop while it starts may take to stop what already started. */
const startCancelBoundMs = 15_000;

/** Declares a service. main.ts calls `.main()`; tests call `.start({ env })`. */
export function defineService<
  E extends z.ZodRawShape = Record<string, never>,
  S extends Record<string, unknown> = Record<string, never>,
>(spec: ServiceSpec<E, S>): AgoraService<BaseConfig & z.infer<z.ZodObject<E>>, S> {
  type C = BaseConfig & z.infer<z.ZodObject<E>>;
  async function start(options: StartOptions = {}): Promise<RunningService<C, S>> {
    const config = loadConfig(
      options.env ?? process.env,
      { grpcPort: spec.ports.grpc ?? 0, metricsPort: spec.ports.metrics },
      (spec.config ?? {}) as E,
    ) as C;
    const logger = createLogger({
      service: spec.name,
      version: config.SERVICE_VERSION,
      level: config.LOG_LEVEL,
      format: config.LOG_FORMAT,
      destination: options.logDestination,
    });
    const cleanup: Array<() => Promise<void> | void> = [];
    /** Runs the cleanup steps in reverse order; false when one failed (logged, the rest still run). */
    const runCleanup = async (): Promise<boolean> => {
      let clean = true;
      for (const step of cleanup.reverse()) {
        try {
          await step();
        } catch (error) {
          clean = false;
          logger.error({ err: error }, "error during shutdown");
        }
      }
      cleanup.length = 0;
      return clean;
    };
    const signal = options.signal;
    let cancelled = false;
    /** Called after every step of the start: a cancelled start stops there. */
    const checkpoint = () => {
      if (signal?.aborted) {
        cancelled = true;
        throw new Error("start cancelled");
      }
    };
    /**
     * Waits for `opening`, or stops waiting when the start is cancelled; what it opens after that is
     * closed with `dispose` as soon as it is there.
     */
    const unlessCancelled = async <T>(opening: Promise<T>, dispose: (opened: T) => Promise<void> | void) => {
      if (!signal) return opening;
      let onAbort: (() => void) | undefined;
      const abandoned = new Promise<"cancelled">((resolve) => {
        onAbort = () => resolve("cancelled");
        if (signal.aborted) onAbort();
        else signal.addEventListener("abort", onAbort, { once: true });
      });
      const outcome = await Promise.race([opening, abandoned]).finally(() => {
        if (onAbort) signal.removeEventListener("abort", onAbort);
      });
      if (outcome === "cancelled") {
        void opening.then(dispose, () => undefined);
        checkpoint();
      }
      return opening;
    };
    try {
      checkpoint();
      const tracing = startTracing({
        service: spec.name,
        version: config.SERVICE_VERSION,
        endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
      });
      cleanup.push(() => tracing.shutdown());
      const registry = createMetricsRegistry(spec.name, config.SERVICE_VERSION);
      const metrics = createGrpcMetrics(registry);
      const metricsServer = await startMetricsServer(registry, config.GRPC_HOST, config.METRICS_PORT);
      cleanup.push(() => metricsServer.close());
      checkpoint();

      let database: Database<S> | undefined;
      if (spec.database) {
        database = await unlessCancelled(
          openDatabase({
            url: config.DATABASE_URL,
            pgliteDir: config.PGLITE_DIR,
            schema: spec.database.schema,
            migrations: [
              eventTablesMigrations,
              { folder: spec.database.migrationsFolder, table: "__drizzle_migrations" },
            ],
            logger,
            applicationName: spec.name,
            poolSize: config.DATABASE_POOL_SIZE,
            preparedStatements: config.DATABASE_PREPARED_STATEMENTS,
          }),
          (late) => late.close(),
        );
        const opened = database;
        cleanup.push(() => opened.close());
        checkpoint();
      }

      const naming = new EventNaming(config.NATS_SUBJECT_PREFIX);
      const retention = { maxAgeMs: config.EVENT_RETENTION_HOURS * 3_600_000 };
      const deadLetterRetention = { maxAgeMs: config.DEAD_LETTER_RETENTION_HOURS * 3_600_000 };
      let natsLink: NatsLink | undefined;
      const nats = (purpose: string): NatsLink => {
        if (!config.NATS_URL) throw new ConfigError([`NATS_URL: is required: ${spec.name} ${purpose}`]);
        if (!natsLink) {
          const link = new NatsLink(config.NATS_URL, spec.name, logger);
          natsLink = link;
          cleanup.push(() => link.close());
        }
        return natsLink;
      };
      const requireDatabase = (purpose: string): Database<S> => {
        if (!database) throw new Error(`${spec.name} ${purpose} but declares no database`);
        return database;
      };
      const publishes = spec.events?.publishes ?? [];
      const outbox = new Outbox(spec.name, publishes);
      if (publishes.length > 0) {
        const relay = new OutboxRelay(
          {
            service: spec.name,
            database: requireDatabase("publishes events") as Database<Record<string, unknown>>,
            nats: nats("publishes events"),
            naming,
            contexts: [...new Set(publishes.map((event) => event.context))],
            retention,
            logger,
            registry,
          },
          { pollIntervalMs: config.OUTBOX_POLL_INTERVAL_MS, failpoint: config.FAILPOINT },
        );
        await relay.start();
        cleanup.push(() => relay.stop());
      }
      const subscriptions: EventSubscription<S>[] = [];

      let serving = false;
      const shutdownHooks: Array<() => Promise<void> | void> = [];
      cleanup.push(async () => {
        for (const hook of shutdownHooks.reverse()) await hook();
      });
      const faults = { errorRate: config.FAULT_ERROR_RATE, delayMs: config.FAULT_DELAY_MS };
      if (faults.errorRate > 0 || faults.delayMs > 0) logger.warn(faults, "fault injection is ON");
      const context: SetupContext<C, S> = {
        config,
        faults,
        logger,
        registry,
        metrics,
        get database(): Database<S> {
          if (!database) throw new Error(`${spec.name} declares no database`);
          return database;
        },
        bind: (definition, handlers) => bindService(definition, handlers, { logger, faults, tracer: tracing.tracer }),
        client: (definition, address, clientOptions) => {
          const client = createClient(definition, address, {
            ...clientOptions,
            logger,
            metrics,
            tracer: tracing.tracer,
          });
          shutdownHooks.push(() => client.close());
          return client;
        },
        onShutdown: (hook) => shutdownHooks.push(hook),
        isServing: () => serving,
        get outbox(): Outbox {
          requireDatabase("uses the outbox");
          return outbox;
        },
        subscribe: (subscriptionOptions) => {
          subscriptions.push(
            new EventSubscription(
              {
                service: spec.name,
                database: requireDatabase("consumes events"),
                nats: nats("consumes events"),
                naming,
                retention,
                deadLetterRetention,
                logger,
                registry,
                tracer: tracing.tracer,
              },
              subscriptionOptions,
            ),
          );
        },
        events: () => ({ nats: nats("uses NATS"), naming }),
        tracer: tracing.tracer,
        signal: signal ?? new AbortController().signal,
      };
      // A setup still running when the start is cancelled is left to finish on its own (its result is
      // dropped; what it registered with onShutdown runs in the cleanup).
      const parts = await unlessCancelled(Promise.resolve(spec.setup(context)), () => undefined);

      if (spec.ports.grpc === undefined && parts.grpc.length > 0) {
        throw new Error(`${spec.name} declares no gRPC port but its setup returned gRPC services`);
      }
      const server =
        spec.ports.grpc === undefined
          ? undefined
          : new GrpcServer({
              host: config.GRPC_HOST,
              port: config.GRPC_PORT,
              logger,
              metrics,
              descriptors: agoraDescriptors(),
              services: parts.grpc,
            });
      if (server) cleanup.push(() => server.drain(0));
      const grpcPort = server ? await server.listen() : 0;
      checkpoint();
      const background: BackgroundTask[] = [...subscriptions, ...(parts.background ?? [])];
      if (subscriptions.length > 0) {
        const inboxHours =
          config.INBOX_RETENTION_HOURS ?? Math.max(config.EVENT_RETENTION_HOURS, config.DEAD_LETTER_RETENTION_HOURS);
        background.push(
          createInboxPruner(
            { database: requireDatabase("consumes events") as Database<Record<string, unknown>>, logger },
            { retentionMs: inboxHours * 3_600_000 },
          ),
        );
      }
      for (const task of background) {
        await task.start();
        cleanup.push(() => task.stop());
        checkpoint();
      }
      server?.setServing(true);
      serving = true;
      logger.info(
        {
          ...(server ? { grpc_port: grpcPort } : {}),
          metrics_port: metricsServer.port,
          database: config.DATABASE_URL ? redact(config.DATABASE_URL) : spec.database ? "pglite" : "none",
          services: parts.grpc.map((binding) => binding.name),
        },
        `${spec.name} is serving`,
      );

      let stopping: Promise<void> | undefined;
      const stop = () => {
        stopping ??= (async () => {
          logger.info("shutting down: health NOT_SERVING");
          serving = false;
          server?.setServing(false);
          if (config.SHUTDOWN_DELAY_MS > 0) await sleep(config.SHUTDOWN_DELAY_MS);
          await server?.drain(config.SHUTDOWN_TIMEOUT_MS);
          await runCleanup();
          logger.info("stopped");
          logger.flush();
        })();
        return stopping;
      };
      return {
        name: spec.name,
        config,
        grpcPort,
        metricsPort: metricsServer.port,
        address: `127.0.0.1:${grpcPort}`,
        logger,
        database,
        stop,
      };
    } catch (error) {
      if (cancelled) {
        logger.info("start cancelled: stopping what already started");
        const clean = await runCleanup();
        logger.info("stopped");
        logger.flush();
        throw new StartCancelledError(spec.name, clean);
      }
      logger.error({ err: error }, `${spec.name} failed to start`);
      await runCleanup();
      logger.flush();
      throw error;
    }
  }

  function main(): void {
    let running: RunningService<C, S> | undefined;
    let signals = 0;
    const starting = new AbortController();
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        process.stderr.write(`${spec.name}: second ${signal}, exiting now\n`);
        process.exit(1);
      }
      if (!running) {
        // Still starting: cancel the start, which stops what already started; exits when that is done.
        setTimeout(() => {
          process.stderr.write(`${spec.name}: ${signal} while starting; stopping took too long, exiting\n`);
          process.exit(1);
        }, startCancelBoundMs).unref();
        starting.abort();
        return;
      }
      const config = running.config as BaseConfig;
      const bound = config.SHUTDOWN_DELAY_MS + config.SHUTDOWN_TIMEOUT_MS + 5_000;
      setTimeout(() => {
        process.stderr.write(`${spec.name}: shutdown took longer than ${bound} ms, exiting\n`);
        process.exit(1);
      }, bound).unref();
      running.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`${spec.name}: shutdown failed: ${String(error)}\n`);
          process.exit(1);
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    start({ signal: starting.signal }).then(
      (started) => {
        running = started;
        process.on("unhandledRejection", (reason) => started.logger.error({ err: reason }, "unhandled rejection"));
        if (starting.signal.aborted) {
          // The signal came after the start's last step: stop as if it had come a moment later.
          signals = 0;
          onSignal("SIGTERM");
        }
      },
      (error: unknown) => {
        if (error instanceof StartCancelledError) process.exit(error.cleanStop ? 0 : 1);
        if (error instanceof ConfigError) process.stderr.write(`${spec.name}: ${error.message}\n`);
        else
          process.stderr.write(
            `${spec.name}: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
          );
        process.exit(1);
      },
    );
  }

  return { name: spec.name, ports: spec.ports, start, main };
}
