import { connect as tcpConnect } from "node:net";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import {
  checkHealth,
  createTestDatabase,
  freePort,
  type ServiceProcess,
  spawnServiceProcess,
  startTestNats,
  type TestDatabase,
  waitUntil,
} from "@agora/testing";
import * as grpc from "@grpc/grpc-js";
import { sql } from "drizzle-orm";
import pino from "pino";
import postgres from "postgres";
import { createClient, defineService, StartCancelledError } from "../src";
import { eventServicesScript, producerService } from "./support/event-test-kit";

const silent = pino({ level: "silent" });

const notPartOfThisTest = async (): Promise<never> => {
  throw new Error("not part of this test");
};
const catalogHandlers = {
  getProduct: notPartOfThisTest,
  listProducts: notPartOfThisTest,
  batchGetProducts: notPartOfThisTest,
  searchProducts: notPartOfThisTest,
  createProduct: notPartOfThisTest,
  updatePrice: notPartOfThisTest,
};

function newProduct(productId: string) {
  return { productId, sku: "S", name: productId, description: "", category: "test", price: undefined, imageUrl: "" };
}

/** Sessions connected to `database` right now (pg_stat_activity). */
async function sessionsOn(database: TestDatabase): Promise<number> {
  const sql = postgres(database.url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ count: number }[]>`
      select count(*)::int as count from pg_stat_activity where datname = ${database.name} and pid <> pg_backend_pid()`;
    return Number(row?.count);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("graceful shutdown of a service process", () => {
  let service: ServiceProcess;

  beforeAll(async () => {
    service = await spawnServiceProcess(join(__dirname, "fixtures/slow-catalog.js"), {
      SLOW_MS: "1500",
      SHUTDOWN_DELAY_MS: "600",
      SHUTDOWN_TIMEOUT_MS: "5000",
    });
  });

  afterAll(() => service.stop());

  it("turns NOT_SERVING on SIGTERM before the port closes, finishes in-flight calls, then exits 0", async () => {
    const client = createClient(CatalogServiceService, service.address, {
      downstream: "slow",
      logger: pino({ level: "silent" }),
      policies: { maxAttempts: 1, breaker: false, timeoutMs: 10_000 },
    });
    const inFlight = client.getProduct({ productId: "slow" });
    await sleep(200);
    service.kill("SIGTERM");

    // Still reachable, reporting NOT_SERVING, while SHUTDOWN_DELAY_MS runs.
    await waitUntil(
      () =>
        checkHealth(service.address).then(
          (status) => status === "NOT_SERVING",
          () => false,
        ),
      500,
      "NOT_SERVING",
    );

    // The call that was in flight at SIGTERM completes normally.
    const response = await inFlight;
    expect(response.product?.productId).toBe("slow");

    expect(await service.exited).toBe(0);
    await expect(checkHealth(service.address, "", 500)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    client.close();
  }, 20_000);

  it("cuts long server streams once unary calls drained (no hang until the timeout)", async () => {
    const streaming = await spawnServiceProcess(join(__dirname, "fixtures/slow-catalog.js"), {
      SHUTDOWN_TIMEOUT_MS: "8000",
    });
    // A health Watch stream never ends by itself.
    const watcher = new grpc.Client(streaming.address, grpc.credentials.createInsecure());
    const stream = watcher.makeServerStreamRequest(
      "/grpc.health.v1.Health/Watch",
      () => Buffer.alloc(0),
      (bytes: Buffer) => bytes,
      {},
    );
    stream.on("error", () => {});
    await sleep(100);
    const started = Date.now();
    streaming.kill("SIGTERM");
    expect(await streaming.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    watcher.close();
  }, 20_000);
});

describe("stopping while NATS is unreachable", () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase("shutdown_no_nats");
  });

  afterAll(() => database.drop());

  it("stops promptly and cleanly (exit 0), leaving the unpublished outbox rows for the next start", async () => {
    const service = await spawnServiceProcess(
      eventServicesScript,
      { DATABASE_URL: database.url, NATS_URL: "nats://127.0.0.1:1", LOG_LEVEL: "info" },
      { args: ["producer"], captureOutput: true },
    );
    try {
      const client = createClient(CatalogServiceService, service.address, {
        downstream: "producer",
        logger: silent,
        policies: { maxAttempts: 1, breaker: false },
      });
      await client.createProduct(newProduct("kept#1"));
      client.close();
      await waitUntil(() => service.output().includes("NATS not reachable yet"), 5000, "relay waiting for NATS");

      const started = Date.now();
      service.kill("SIGTERM");
      expect(await service.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(service.output()).toMatch(/"msg":"stopped"/);
      expect(service.output()).not.toMatch(/shutdown took longer/);
    } finally {
      await service.stop();
    }
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql<{ published: boolean }[]>`select published_at is not null as published from agora_outbox`;
      expect(rows).toEqual([{ published: false }]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  }, 30_000);
});

describe("a stop signal while the service is still starting", () => {
  let database: TestDatabase;
  let nats: Awaited<ReturnType<typeof startTestNats>>;

  beforeAll(async () => {
    [database, nats] = await Promise.all([createTestDatabase("shutdown_starting"), startTestNats()]);
  });

  afterAll(async () => {
    await database.drop();
    await nats.close();
  });

  it("SIGTERM during setup: the process stops what it started (database, NATS, ports) and exits 0", async () => {
    const service = await spawnServiceProcess(
      eventServicesScript,
      { DATABASE_URL: database.url, NATS_URL: nats.url, SETUP_DELAY_MS: "20000", LOG_LEVEL: "info" },
      { args: ["producer"], captureOutput: true, waitUntilServing: false },
    );
    try {
      await waitUntil(() => service.output().includes("database ready"), 15_000, "database migrated");
      // Health is reachable only once the gRPC port listens; during setup it is not, and never SERVING.
      const started = Date.now();
      service.kill("SIGTERM");
      expect(await service.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(5000);
      const output = service.output();
      expect(output).toMatch(/start cancelled: stopping what already started/);
      expect(output).toMatch(/"msg":"stopped"/);
    } finally {
      await service.stop();
    }
  }, 30_000);

  it("in process: a cancelled start rejects, and the database sessions and the metrics port are closed", async () => {
    const controller = new AbortController();
    const metricsPort = await freePort();
    const logs = new PassThrough();
    let logged = "";
    logs.on("data", (chunk: Buffer) => {
      logged += chunk.toString();
    });
    // The fixture reads SETUP_DELAY_MS from this process's environment when its setup runs.
    process.env.SETUP_DELAY_MS = "20000";
    let outcome: Promise<unknown> | undefined;
    try {
      const starting = producerService.start({
        env: {
          GRPC_HOST: "127.0.0.1",
          GRPC_PORT: "0",
          METRICS_PORT: String(metricsPort),
          LOG_LEVEL: "info",
          LOG_FORMAT: "json",
          DATABASE_URL: database.url,
          NATS_URL: nats.url,
        },
        logDestination: logs,
        signal: controller.signal,
      });
      outcome = starting.then(
        (started) => started,
        (error: unknown) => error,
      );
      await waitUntil(() => logged.includes("database ready"), 10_000, "database migrated");
      // The fixture's setup opens a pooled session before it waits.
      await waitUntil(async () => (await sessionsOn(database)) > 0, 10_000, "a database session open while starting");
      const cancelledAt = Date.now();
      controller.abort();
      const result = await outcome;
      // The fixture runs on the compiled kit: its error class is dist's, not src's.
      expect(result).toMatchObject({ name: StartCancelledError.name, cleanStop: true });
      expect(Date.now() - cancelledAt).toBeLessThan(5000);
      expect(await portOpen(metricsPort)).toBe(false);
      await waitUntil(async () => (await sessionsOn(database)) === 0, 5000, "every database session closed");
    } finally {
      delete process.env.SETUP_DELAY_MS;
      // Whatever failed above, leave no service running behind the test (jest would never exit).
      controller.abort();
      const result = await outcome;
      if (result && typeof (result as { stop?: unknown }).stop === "function") {
        await (result as { stop(): Promise<void> }).stop();
      }
    }
  }, 30_000);
});

describe("health while starting, and the database at shutdown", () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase("shutdown_health");
  });

  afterAll(() => database.drop());

  it("answers NOT_SERVING until everything started, then SERVING; closes every database session at stop", async () => {
    let release: (() => void) | undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const gated = defineService({
      name: "gated",
      ports: { grpc: 0, metrics: 0 },
      database: { schema: {}, migrationsFolder: join(__dirname, "fixtures/migrations") },
      setup: ({ bind }) => ({
        grpc: [bind(CatalogServiceService, catalogHandlers)],
        // Starts once the test lets it: until then the service is listening but still starting.
        background: [{ name: "gate", start: () => gate, stop: () => {} }],
      }),
    });
    const grpcPort = await freePort();
    const address = `127.0.0.1:${grpcPort}`;
    const starting = gated.start({
      env: {
        GRPC_HOST: "127.0.0.1",
        GRPC_PORT: String(grpcPort),
        METRICS_PORT: "0",
        LOG_LEVEL: "silent",
        DATABASE_URL: database.url,
      },
    });
    try {
      await waitUntil(
        () =>
          checkHealth(address, "", 500).then(
            () => true,
            () => false,
          ),
        10_000,
        "health answering",
      );
      expect(await checkHealth(address)).toBe("NOT_SERVING");
      expect(await checkHealth(address, "agora.catalog.v1.CatalogService")).toBe("NOT_SERVING");
      await sleep(200);
      expect(await checkHealth(address)).toBe("NOT_SERVING");
    } finally {
      release?.();
    }
    const running = await starting;
    try {
      expect(await checkHealth(address)).toBe("SERVING");
      // The pool connects on first use.
      await running.database?.rows(sql`select 1`);
      expect(await sessionsOn(database)).toBeGreaterThan(0);
    } finally {
      await running.stop();
    }
    await waitUntil(async () => (await sessionsOn(database)) === 0, 5000, "every database session closed");
  }, 30_000);
});
