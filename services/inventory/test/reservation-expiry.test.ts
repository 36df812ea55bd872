import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { ProductCreatedEvent, StockReleasedEvent } from "@agora/contracts";
import { ReservationStatus } from "@agora/contracts/agora/inventory/v1/inventory";
import { InventoryServiceService } from "@agora/contracts/agora/inventory/v1/inventory_service";
import { createClient, type PromiseClient } from "@agora/service-kit";
import {
  createTestDatabase,
  EventProbe,
  grpcOutcome,
  type ServiceProcess,
  spawnServiceProcess,
  startService,
  startTestNats,
  type TestDatabase,
  TestEventProducer,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import pino from "pino";
import { inventoryService } from "../src/main";

type Inventory = PromiseClient<typeof InventoryServiceService>;

describe("reservation expiry", () => {
  let nats: TestNats;
  let events: EventProbe;
  const databases: TestDatabase[] = [];

  beforeAll(async () => {
    nats = await startTestNats();
    events = await EventProbe.connect(nats.url, nats.subjectPrefix);
  });

  afterAll(async () => {
    await events.close();
    await Promise.all(databases.map((database) => database.drop()));
    await nats.close();
  });

  async function freshEnv(extra: Record<string, string>): Promise<Record<string, string>> {
    const database = await createTestDatabase("inventory_expiry");
    databases.push(database);
    return {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      NATS_SUBJECT_PREFIX: nats.subjectPrefix,
      OUTBOX_POLL_INTERVAL_MS: "100",
      ...extra,
    };
  }

  it("releases a reservation that is never committed once its TTL has passed, and announces it", async () => {
    const service = await startService(
      inventoryService,
      await freshEnv({ RESERVATION_TTL_MS: "700", RESERVATION_SWEEP_INTERVAL_MS: "100" }),
    );
    try {
      const inventory = service.client(InventoryServiceService);
      await inventory.adjustStock({ sku: "EXP-1", delta: 3, reason: "delivery" });
      const orderId = randomUUID();
      const { reservation } = await inventory.reserveStock({ orderId, lines: [{ sku: "EXP-1", quantity: 3 }] });
      expect((reservation?.expireTime?.getTime() ?? 0) - (reservation?.createTime?.getTime() ?? 0)).toBe(700);
      expect((await inventory.getStock({ skus: ["EXP-1"] })).levels[0]).toMatchObject({ reserved: 3, available: 0 });

      await waitUntil(
        async () => (await inventory.getStock({ skus: ["EXP-1"] })).levels[0]?.available === 3,
        5_000,
        "stock released by the sweeper",
      );
      const expiredAfter = Date.now() - (reservation?.createTime?.getTime() ?? 0);
      expect(expiredAfter).toBeGreaterThanOrEqual(700);

      const released = await events.waitFor(StockReleasedEvent, (all) =>
        all.some((event) => event.payload.reservation?.orderId === orderId),
      );
      expect(released.find((event) => event.payload.reservation?.orderId === orderId)?.payload).toMatchObject({
        reason: "reservation expired before it was committed",
        reservation: { status: ReservationStatus.RESERVATION_STATUS_EXPIRED, lines: [{ sku: "EXP-1", quantity: 3 }] },
      });
      expect(await grpcOutcome(inventory.commitReservation({ orderId }))).toMatch(
        /^FAILED_PRECONDITION: the reservation of order .* was expired \(reservation expired before it was committed\)/,
      );
      // Releasing an expired reservation is a no-op that returns it.
      const release = await inventory.releaseReservation({ orderId, reason: "order rejected" });
      expect(release.reservation?.status).toBe(ReservationStatus.RESERVATION_STATUS_EXPIRED);
      expect((await inventory.getStock({ skus: ["EXP-1"] })).levels[0]).toMatchObject({ reserved: 0, available: 3 });
    } finally {
      await service.stop();
    }
  });

  it("does not expire a committed reservation", async () => {
    const service = await startService(
      inventoryService,
      await freshEnv({ RESERVATION_TTL_MS: "400", RESERVATION_SWEEP_INTERVAL_MS: "50" }),
    );
    try {
      const inventory = service.client(InventoryServiceService);
      await inventory.adjustStock({ sku: "EXP-2", delta: 2, reason: "delivery" });
      const orderId = randomUUID();
      await inventory.reserveStock({ orderId, lines: [{ sku: "EXP-2", quantity: 2 }] });
      await inventory.commitReservation({ orderId });
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect((await inventory.getStock({ skus: ["EXP-2"] })).levels[0]).toMatchObject({ onHand: 0, reserved: 0 });
      expect((await inventory.commitReservation({ orderId })).reservation?.status).toBe(
        ReservationStatus.RESERVATION_STATUS_COMMITTED,
      );
    } finally {
      await service.stop();
    }
  });

  it("refuses to commit a hold past its expiry even before the sweeper reached it, and releases it then", async () => {
    // The sweeper looks only once a minute here: the commit itself must notice the expiry.
    const service = await startService(
      inventoryService,
      await freshEnv({ RESERVATION_TTL_MS: "300", RESERVATION_SWEEP_INTERVAL_MS: "60000" }),
    );
    try {
      const inventory = service.client(InventoryServiceService);
      await inventory.adjustStock({ sku: "EXP-3", delta: 1, reason: "delivery" });
      const orderId = randomUUID();
      await inventory.reserveStock({ orderId, lines: [{ sku: "EXP-3", quantity: 1 }] });
      await new Promise((resolve) => setTimeout(resolve, 450));
      expect((await inventory.getStock({ skus: ["EXP-3"] })).levels[0]).toMatchObject({ reserved: 1 });
      expect(await grpcOutcome(inventory.commitReservation({ orderId }))).toMatch(
        /^FAILED_PRECONDITION: the reservation of order .* expired at .*; its stock was released/,
      );
      expect((await inventory.getStock({ skus: ["EXP-3"] })).levels[0]).toMatchObject({ onHand: 1, reserved: 0 });
      const again = await inventory.releaseReservation({ orderId, reason: "late" });
      expect(again.reservation?.status).toBe(ReservationStatus.RESERVATION_STATUS_EXPIRED);
    } finally {
      await service.stop();
    }
  });
});

describe("inventory as a process: demo stock from product events, expiry after a crash", () => {
  let nats: TestNats;
  let database: TestDatabase;
  let catalog: TestEventProducer;
  let env: Record<string, string>;
  const processes: ServiceProcess[] = [];
  const clients: Inventory[] = [];
  const logger = pino({ level: "silent" });

  beforeAll(async () => {
    nats = await startTestNats();
    database = await createTestDatabase("inventory_process");
    catalog = await TestEventProducer.start({ nats, producer: "catalog", publishes: [ProductCreatedEvent] });
    env = {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      NATS_SUBJECT_PREFIX: nats.subjectPrefix,
      SEED_DEMO_DATA: "true",
      DEMO_INITIAL_STOCK: "25",
      RESERVATION_TTL_MS: "1500",
      RESERVATION_SWEEP_INTERVAL_MS: "100",
    };
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    for (const process of processes) await process.stop();
    await catalog.close();
    await database.drop();
    await nats.close();
  });

  async function spawnInventory(): Promise<Inventory> {
    const started = await spawnServiceProcess(join(__dirname, "../dist/main.js"), env);
    processes.push(started);
    const client = createClient(InventoryServiceService, started.address, {
      downstream: "inventory",
      logger,
      policies: { maxAttempts: 1, breaker: false },
    });
    clients.push(client);
    return client;
  }

  it("stocks a new product with DEMO_INITIAL_STOCK, and a hold left by a killed process still expires", async () => {
    const first = await spawnInventory();
    await catalog.publish(
      ProductCreatedEvent,
      {
        product: {
          productId: "demo-kettle",
          sku: "AG-DEMO-001",
          name: "Demo kettle",
          description: "",
          category: "kitchen",
          price: { currencyCode: "EUR", units: 30, nanos: 0 },
          imageUrl: "",
          createTime: new Date(),
          updateTime: new Date(),
        },
      },
      { aggregateId: "demo-kettle" },
    );
    await waitUntil(
      () =>
        first.getStock({ skus: ["AG-DEMO-001"] }).then(
          (response) => response.levels[0]?.onHand === 25,
          () => false,
        ),
      10_000,
      "demo stock",
    );

    const orderId = randomUUID();
    await first.reserveStock({ orderId, lines: [{ sku: "AG-DEMO-001", quantity: 5 }] });
    expect((await first.getStock({ skus: ["AG-DEMO-001"] })).levels[0]).toMatchObject({ reserved: 5, available: 20 });
    const crashed = processes[0] as ServiceProcess;
    crashed.kill("SIGKILL");
    await crashed.exited;

    // Nothing in memory survived; the reservation's expiry lives in the database.
    const second = await spawnInventory();
    await waitUntil(
      () =>
        second.getStock({ skus: ["AG-DEMO-001"] }).then(
          (response) => response.levels[0]?.reserved === 0,
          () => false,
        ),
      10_000,
      "hold released after the restart",
    );
    expect(await grpcOutcome(second.commitReservation({ orderId }))).toMatch(/^FAILED_PRECONDITION: .* was expired/);
  }, 40_000);
});
