import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { checkHealth } from "@agora/service-kit";
import postgres from "postgres";
import { formatLogLine, prefixFor } from "./log-lines";
import {
  addressVariable,
  databaseUrlVariable,
  discoverServices,
  type LocalService,
  perServiceVariables,
  startOrder,
} from "./service-catalog";
import { SupervisedProcess } from "./supervised-process";

/** How to run the system locally. */
export interface LocalSystemOptions {
  /** Repository root (holds services/ and node_modules/). */
  repoRoot: string;
  /** Where data lives between runs: NATS's JetStream store and each service's embedded database. */
  dataDir: string;
  /** Delete dataDir first. */
  reset?: boolean;
  /** Use this NATS instead of starting nats-server. */
  natsUrl?: string;
  /** Port of the nats-server the runner starts. Default 4250 (not 4222, which a machine may already run). */
  natsPort?: number;
  /** A Postgres server URL: each service gets its own database "agora_<service>" on it instead of PGlite. */
  postgresUrl?: string;
  /**
   * A database of its own for some services, by service name (from `<SERVICE>_DATABASE_URL`, see
   * {@link databaseUrlsFromEnv}); it wins over postgresUrl and PGlite for that service.
   */
  databaseUrls?: Record<string, string>;
  /** Appended to the per-service database names on the Postgres server (to keep runs apart). */
  databaseSuffix?: string;
  /** OTLP/gRPC endpoint for traces. */
  otelEndpoint?: string;
  /** Added to every port (to run a second copy beside the first). Default 0. */
  portOffset?: number;
  /** Extra environment for every service. */
  env?: Record<string, string>;
  /** Where log lines go; stdout by default. */
  writeLine?: (line: string) => void;
  /** Colour the prefixes and levels. */
  colour?: boolean;
  /** Only these services (and nothing else). Default: all. */
  only?: string[];
  /** Aborting it while the system starts stops what was started (gracefully) and rejects with an AbortError. */
  signal?: AbortSignal;
}

/**
 * The `<SERVICE>_DATABASE_URL` variables of an environment, by service name (e.g. ORDER_DATABASE_URL →
 * order). A bare DATABASE_URL is refused: it would put every service on one database.
 */
export function databaseUrlsFromEnv(env: NodeJS.ProcessEnv, serviceNames: readonly string[]): Record<string, string> {
  if (env.DATABASE_URL) {
    throw new Error(
      "DATABASE_URL is set, which would give every service the same database; give each service its own " +
        `(${serviceNames.map(databaseUrlVariable).slice(0, 2).join(", ")}, …) or use --postgres URL (a database per service on one server)`,
    );
  }
  const urls: Record<string, string> = {};
  for (const name of serviceNames) {
    const url = env[databaseUrlVariable(name)];
    if (url) urls[name] = url;
  }
  return urls;
}

/** The runner's environment without the variables that configure a single service. */
function sharedEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const shared = { ...env };
  for (const name of perServiceVariables) delete shared[name];
  return shared;
}

/**
 * Node flags every service runs with — here, in the image's CMD (Dockerfile) and in `./agora run`:
 * V8's young generation capped at 8 MiB per semi-space. Left to itself Node sizes it from the
 * machine's memory, and under load each service's RSS grew to 200–320 MiB; capped, the services
 * stayed at 110–200 MiB with no measurable CPU cost (docs/performance.md, "Memory").
 */
export const serviceNodeFlags: readonly string[] = ["--max-semi-space-size=8"];

/** A running service as the runner sees it. */
export interface RunningLocalService extends LocalService {
  /** gRPC address or HTTP base URL. */
  endpoint: string;
  grpcPort?: number;
  httpPort?: number;
  metricsPort: number;
  process: SupervisedProcess;
}

/** The running system. */
export interface LocalSystem {
  services: RunningLocalService[];
  natsUrl: string;
  /** Current health of each service: SERVING, NOT_SERVING, DOWN. */
  health(): Promise<Record<string, string>>;
  /** Stops every service gracefully, then nats-server. */
  stop(): Promise<void>;
  /** Kills everything at once. */
  kill(): void;
}

function natsServerBinary(): string {
  for (const candidate of [
    process.env.NATS_SERVER_BIN,
    "nats-server",
    "/usr/sbin/nats-server",
    "/usr/local/bin/nats-server",
  ]) {
    if (!candidate) continue;
    try {
      execFileSync(candidate, ["--version"], { stdio: "ignore" });
      return candidate;
    } catch {
      // next candidate
    }
  }
  throw new Error("nats-server not found: install it (Debian: apt-get install nats-server) or pass a NATS URL");
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function ensureDatabase(serverUrl: string, name: string, reset: boolean): Promise<string> {
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    if (reset) await admin.unsafe(`drop database if exists "${name}" with (force)`);
    const [existing] = await admin`select 1 as found from pg_database where datname = ${name}`;
    if (!existing) await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end({ timeout: 2 });
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Probes one service: gRPC health, or GET /readyz for an HTTP service. */
async function probe(service: RunningLocalService): Promise<string> {
  if (service.grpcPort !== undefined) {
    return checkHealth(`127.0.0.1:${service.grpcPort}`, "", 1000).catch(() => "DOWN");
  }
  try {
    const response = await fetch(`${service.endpoint}/readyz`, { signal: AbortSignal.timeout(1000) });
    return response.ok ? "SERVING" : "NOT_SERVING";
  } catch {
    return "DOWN";
  }
}

/**
 * Starts nats-server (unless a NATS URL is given) and every service with its own data, waits until all
 * are healthy, and returns a handle. Crashed services are reported and restarted with backoff.
 */
export async function startLocalSystem(options: LocalSystemOptions): Promise<LocalSystem> {
  const offset = options.portOffset ?? 0;
  const write = options.writeLine ?? ((line: string) => process.stdout.write(`${line}\n`));
  const colour = options.colour ?? false;
  if (options.reset) rmSync(options.dataDir, { recursive: true, force: true });
  mkdirSync(options.dataDir, { recursive: true });

  const discovered = discoverServices(options.repoRoot).filter(
    (service) => !options.only || options.only.includes(service.name),
  );
  const services = startOrder(discovered);
  const width = Math.max(4, ...services.map((service) => service.name.length));
  const logger = (name: string, index: number) => {
    const prefix = prefixFor(name, index, width, colour);
    return (line: string) => write(`${prefix} ${formatLogLine(line, colour)}`);
  };

  let natsProcess: SupervisedProcess | undefined;
  let natsUrl = options.natsUrl;
  if (!natsUrl) {
    const port = (options.natsPort ?? 4250) + offset;
    if (await portOpen(port)) throw new Error(`port ${port} is taken: is Agora already running? (or pass a NATS URL)`);
    const storeDir = join(options.dataDir, "nats");
    mkdirSync(storeDir, { recursive: true });
    natsProcess = new SupervisedProcess({
      name: "nats",
      command: natsServerBinary(),
      args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir],
      env: process.env,
      // nats-server's informational start-up banner is noise here; warnings and errors are shown.
      onLine: (line) => {
        if (!line.includes("[INF]")) logger("nats", services.length)(line);
      },
      onEvent: (event) =>
        write(
          event.kind === "crashed"
            ? `nats-server exited (${event.code ?? event.signal}); restarting`
            : "nats-server restarted",
        ),
    });
    natsProcess.start();
    natsUrl = `nats://127.0.0.1:${port}`;
    const deadline = Date.now() + 10_000;
    while (!(await portOpen(port))) {
      if (Date.now() > deadline) throw new Error(`nats-server did not open port ${port}`);
      await sleep(50);
    }
  }

  const portOf = (service: LocalService) => (service.grpcPort ?? service.httpPort ?? 0) + offset;
  const taken: string[] = [];
  for (const service of services) {
    for (const port of [portOf(service), service.metricsPort + offset]) {
      if (await portOpen(port)) taken.push(`${port} (${service.name})`);
    }
  }
  if (taken.length > 0) {
    await natsProcess?.stop();
    throw new Error(`ports already in use: ${taken.join(", ")} — is Agora already running?`);
  }
  const running: RunningLocalService[] = [];
  for (const [index, service] of services.entries()) {
    const env: NodeJS.ProcessEnv = {
      ...sharedEnvironment(process.env),
      NODE_OPTIONS: "",
      LOG_FORMAT: "json",
      LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
      SERVICE_VERSION: "local",
      GRPC_HOST: "127.0.0.1",
      HTTP_HOST: "127.0.0.1",
      METRICS_PORT: String(service.metricsPort + offset),
      NATS_URL: natsUrl,
      SHUTDOWN_TIMEOUT_MS: "5000",
      ...(options.otelEndpoint ? { OTEL_EXPORTER_OTLP_ENDPOINT: options.otelEndpoint } : {}),
      ...Object.fromEntries(services.map((other) => [addressVariable(other.name), `127.0.0.1:${portOf(other)}`])),
      ...service.localEnv,
      ...options.env,
    };
    if (service.grpcPort !== undefined) env.GRPC_PORT = String(service.grpcPort + offset);
    if (service.httpPort !== undefined) env.HTTP_PORT = String(service.httpPort + offset);
    if (service.database) {
      const ownUrl = options.databaseUrls?.[service.name];
      if (ownUrl) {
        env.DATABASE_URL = ownUrl;
      } else if (options.postgresUrl) {
        env.DATABASE_URL = await ensureDatabase(
          options.postgresUrl,
          `agora_${service.name.replace(/-/g, "_")}${options.databaseSuffix ?? ""}`,
          options.reset ?? false,
        );
      } else {
        const dir = join(options.dataDir, "databases", service.name);
        mkdirSync(dir, { recursive: true });
        env.PGLITE_DIR = dir;
      }
    }
    const log = logger(service.name, index);
    const supervised = new SupervisedProcess({
      name: service.name,
      command: process.execPath,
      args: [...serviceNodeFlags, service.entry],
      env,
      cwd: service.directory,
      onLine: log,
      onEvent: (event) =>
        log(
          event.kind === "crashed"
            ? `!! ${service.name} exited unexpectedly (${event.signal ?? `code ${event.code}`}); restarting in ${event.restartInMs} ms`
            : `!! ${service.name} restarted`,
        ),
    });
    running.push({
      ...service,
      grpcPort: service.grpcPort === undefined ? undefined : service.grpcPort + offset,
      httpPort: service.httpPort === undefined ? undefined : service.httpPort + offset,
      metricsPort: service.metricsPort + offset,
      endpoint:
        service.grpcPort !== undefined
          ? `127.0.0.1:${service.grpcPort + offset}`
          : `http://127.0.0.1:${(service.httpPort ?? 0) + offset}`,
      process: supervised,
    });
  }

  const system: LocalSystem = {
    services: running,
    natsUrl,
    async health() {
      const entries = await Promise.all(running.map(async (service) => [service.name, await probe(service)] as const));
      return Object.fromEntries(entries);
    },
    async stop() {
      for (const service of [...running].reverse()) await service.process.stop();
      await natsProcess?.stop();
    },
    kill() {
      for (const service of running) service.process.kill();
      natsProcess?.kill();
    },
  };

  // A service starts once everything it calls is serving (callers' clients would otherwise begin
  // in reconnect backoff and their breakers open); embedded databases take seconds to open.
  const started = new Set<string>();
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (options.signal?.aborted) {
      await system.stop();
      throw new DOMException("stopped while starting", "AbortError");
    }
    const health = await system.health();
    for (const service of running) {
      if (!started.has(service.name) && service.downstreams.every((name) => health[name] === "SERVING")) {
        started.add(service.name);
        service.process.start();
      }
    }
    if (Object.values(health).every((status) => status === "SERVING")) break;
    if (Date.now() > deadline) {
      const pending = Object.entries(health)
        .filter(([, status]) => status !== "SERVING")
        .map(([name, status]) => `${name} ${started.has(name) ? status : "not started (waiting for its downstreams)"}`);
      await system.stop();
      throw new Error(`not healthy after 180 s: ${pending.join(", ")}`);
    }
    await sleep(250, undefined, { signal: options.signal }).catch(() => undefined);
  }
  return system;
}
