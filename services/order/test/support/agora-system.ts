import { existsSync } from "node:fs";
import { join } from "node:path";
import { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import { InventoryServiceService } from "@agora/contracts/agora/inventory/v1/inventory_service";
import { PaymentServiceService } from "@agora/contracts/agora/payment/v1/payment_service";
import { ShippingServiceService } from "@agora/contracts/agora/shipping/v1/shipping_service";
import { createClient, type PromiseClient } from "@agora/service-kit";
import {
  createTestDatabase,
  freePort,
  type ServiceProcess,
  spawnServiceProcess,
  startTestNats,
  type TestDatabase,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import pino from "pino";

/** The downstream services the order service works with, run from their builds. */
export type Downstream = "catalog" | "inventory" | "payment" | "shipping";
const downstreams: readonly Downstream[] = ["catalog", "inventory", "payment", "shipping"];

type Env = Record<string, string | undefined>;

/** Where a service's build is: services/<name>/dist/main.js. */
export function entryOf(service: string): string {
  return join(__dirname, "..", "..", "..", service, "dist", "main.js");
}

/** Settings of the downstream processes that the order tests rely on (see each service's README). */
export const downstreamEnv: Record<Downstream, Env> = {
  catalog: { SEED_DEMO_DATA: "true" },
  inventory: { SEED_DEMO_DATA: "true" },
  payment: {},
  // Long enough to cancel a CONFIRMED order before it ships, short enough for the tests.
  shipping: { DISPATCH_DELAY_MS: "1500", DISPATCH_SWEEP_INTERVAL_MS: "100" },
};

/** SKUs of the demo products the order tests use (espresso machine, burr grinder, pour-over kettle). */
export const demoSkus = ["AG-COF-001", "AG-COF-002", "AG-COF-003"];

const quiet = pino({ level: "silent" });

/**
 * The real catalog, inventory, payment and shipping as OS processes, each with its own Postgres
 * database, on one test NATS server, plus typed clients to them. The order service under test runs
 * beside them (in-process or as a process) with {@link orderEnv}.
 */
export class AgoraSystem {
  readonly processes = new Map<Downstream, ServiceProcess>();
  private readonly clients: Array<{ close(): void }> = [];
  readonly catalog: PromiseClient<typeof CatalogServiceService>;
  readonly inventory: PromiseClient<typeof InventoryServiceService>;
  readonly payment: PromiseClient<typeof PaymentServiceService>;
  readonly shipping: PromiseClient<typeof ShippingServiceService>;

  private constructor(
    readonly nats: TestNats,
    readonly databases: Map<string, TestDatabase>,
    private readonly extraEnv: Partial<Record<Downstream, Env>>,
    private readonly ports: Map<Downstream, { grpc: number; metrics: number }>,
  ) {
    this.catalog = this.client(CatalogServiceService, "catalog");
    this.inventory = this.client(InventoryServiceService, "inventory");
    this.payment = this.client(PaymentServiceService, "payment");
    this.shipping = this.client(ShippingServiceService, "shipping");
  }

  /** Starts the four downstreams (with `extraEnv` per service) and waits until each is SERVING. */
  static async start(
    label: string,
    extraEnv: Partial<Record<Downstream, Env>> = {},
    services: readonly Downstream[] = downstreams,
  ): Promise<AgoraSystem> {
    const missing = services.filter((service) => !existsSync(entryOf(service)));
    if (missing.length > 0) {
      throw new Error(
        `build ${missing.join(", ")} first: npx turbo run build ${missing.map((name) => `--filter=@agora/${name}`).join(" ")}`,
      );
    }
    const nats = await startTestNats();
    const databases = new Map<string, TestDatabase>();
    for (const name of [...downstreams, "order"]) {
      databases.set(name, await createTestDatabase(`${label}_${name}`.slice(0, 30)));
    }
    const ports = new Map<Downstream, { grpc: number; metrics: number }>();
    for (const service of downstreams) ports.set(service, { grpc: await freePort(), metrics: await freePort() });
    const system = new AgoraSystem(nats, databases, extraEnv, ports);
    await Promise.all(services.map((service) => system.startDownstream(service)));
    // Inventory stocks the demo products when it sees catalog's product_created events.
    await waitUntil(
      () =>
        system.inventory.getStock({ skus: demoSkus }).then(
          (answer) => answer.levels.length === demoSkus.length && answer.levels.every((level) => level.onHand > 0),
          () => false,
        ),
      30_000,
      "demo stock in inventory",
    );
    return system;
  }

  /** "127.0.0.1:<port>" of a downstream (stable across restarts). */
  address(service: Downstream): string {
    return `127.0.0.1:${this.ports.get(service)?.grpc}`;
  }

  /** Environment shared by every service: NATS and its subject prefix, fast outbox polling. */
  baseEnv(): Env {
    return {
      // Expected warnings (saga retries while a service is down) would drown the test output.
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
      NATS_URL: this.nats.url,
      NATS_SUBJECT_PREFIX: this.nats.subjectPrefix,
      OUTBOX_POLL_INTERVAL_MS: "100",
    };
  }

  /**
   * Environment for an order service in this system: its database (a new one with `database`), the
   * downstreams' addresses, and short saga timings (override any of them).
   */
  orderEnv(overrides: Env = {}): Env {
    return {
      ...this.baseEnv(),
      DATABASE_URL: this.databases.get("order")?.url,
      CATALOG_ADDR: this.address("catalog"),
      INVENTORY_ADDR: this.address("inventory"),
      PAYMENT_ADDR: this.address("payment"),
      SHIPPING_ADDR: this.address("shipping"),
      SAGA_DEADLINE_MS: "8000",
      SAGA_STEP_TIMEOUT_MS: "2000",
      SAGA_LEASE_MS: "4500",
      SAGA_RETRY_INITIAL_MS: "100",
      SAGA_RETRY_MAX_MS: "500",
      SAGA_SWEEP_INTERVAL_MS: "250",
      SAGA_BREAKER_HALF_OPEN_MS: "500",
      WATCH_POLL_INTERVAL_MS: "500",
      ...overrides,
    };
  }

  /** A fresh database for another order service (isolated scenarios). */
  async newDatabase(label: string): Promise<TestDatabase> {
    const database = await createTestDatabase(label);
    this.databases.set(label, database);
    return database;
  }

  private async startDownstream(service: Downstream, env: Env = {}): Promise<ServiceProcess> {
    const started = await spawnServiceProcess(
      entryOf(service),
      {
        ...this.baseEnv(),
        ...downstreamEnv[service],
        DATABASE_URL: this.databases.get(service)?.url,
        CATALOG_ADDR: this.address("catalog"),
        ...this.extraEnv[service],
        ...env,
      },
      { ports: this.ports.get(service) },
    );
    this.processes.set(service, started);
    return started;
  }

  /** Kills a downstream (SIGKILL) and waits until it is gone: its port refuses connections. */
  async kill(service: Downstream): Promise<void> {
    await this.processes.get(service)?.stop();
    this.processes.delete(service);
  }

  /** Starts a downstream again on the same ports and database (with extra environment, if given). */
  async restart(service: Downstream, env: Env = {}): Promise<void> {
    await this.kill(service);
    await this.startDownstream(service, env);
    // This test's channel may still be in reconnect backoff from the outage: wait until it gets through.
    if (service === "inventory") {
      await waitUntil(
        () =>
          this.inventory.getStock({ skus: demoSkus }).then(
            () => true,
            () => false,
          ),
        15_000,
        "inventory reachable again",
      );
    }
  }

  /** A downstream's Prometheus counter (summed over its series whose labels include `labels`). */
  async counter(service: Downstream, name: string, labels: Record<string, string> = {}): Promise<number> {
    const port = this.ports.get(service)?.metrics;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    let total = 0;
    for (const line of text.split("\n")) {
      if (!line.startsWith(`${name}{`)) continue;
      if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) {
        total += Number(line.slice(line.lastIndexOf(" ") + 1));
      }
    }
    return total;
  }

  private client<D extends Parameters<typeof createClient>[0]>(definition: D, service: Downstream): PromiseClient<D> {
    // Ports stay the same across restarts, so one channel reaches the restarted process too.
    const client = createClient(definition, this.address(service), {
      downstream: service,
      logger: quiet,
      policies: { maxAttempts: 1, breaker: false },
    });
    this.clients.push(client);
    return client;
  }

  /** Stops every process, drops the databases and stops NATS. */
  async stop(): Promise<void> {
    for (const client of this.clients) client.close();
    await Promise.all([...this.processes.values()].map((process) => process.stop()));
    for (const database of this.databases.values()) await database.drop().catch(() => undefined);
    await this.nats.close();
  }
}
