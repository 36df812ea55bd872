import { randomUUID } from "node:crypto";
import { ProductCreatedEvent, StockDepletedEvent, StockReleasedEvent, StockReservedEvent } from "@agora/contracts";
import { ReservationStatus } from "@agora/contracts/agora/inventory/v1/inventory";
import { InventoryServiceService } from "@agora/contracts/agora/inventory/v1/inventory_service";
import type { Database, PromiseClient } from "@agora/service-kit";
import {
  createTestDatabase,
  EventProbe,
  expectGrpcStatus,
  type StartedService,
  startService,
  startTestNats,
  type TestDatabase,
  TestEventProducer,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import * as grpc from "@grpc/grpc-js";
import { type SQL, sql } from "drizzle-orm";
import { inventoryService } from "../src/main";

type Inventory = PromiseClient<typeof InventoryServiceService>;

describe("inventory service on real Postgres and NATS", () => {
  let database: TestDatabase;
  let nats: TestNats;
  let env: Record<string, string>;
  let service: StartedService<unknown, Record<string, unknown>>;
  let replica: StartedService<unknown, Record<string, unknown>>;
  let inventory: Inventory;
  let inventoryReplica: Inventory;
  let catalog: TestEventProducer;
  let events: EventProbe;

  beforeAll(async () => {
    database = await createTestDatabase("inventory");
    nats = await startTestNats();
    env = {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      NATS_SUBJECT_PREFIX: nats.subjectPrefix,
      OUTBOX_POLL_INTERVAL_MS: "100",
      RESERVATION_SWEEP_INTERVAL_MS: "100",
    };
    service = await startService(inventoryService, env);
    // A second replica on the same database: the concurrency tests split their calls between the two.
    replica = await startService(inventoryService, env);
    inventory = service.client(InventoryServiceService);
    inventoryReplica = replica.client(InventoryServiceService);
    catalog = await TestEventProducer.start({ nats, producer: "catalog", publishes: [ProductCreatedEvent] });
    events = await EventProbe.connect(nats.url, nats.subjectPrefix);
  });

  afterAll(async () => {
    await events.close();
    await catalog.close();
    await replica.stop();
    await service.stop();
    await database.drop();
    await nats.close();
  });

  /** Raw SQL on the service's own database, to look behind the API. */
  const query = <T extends Record<string, unknown>>(statement: SQL) =>
    (service.running.database as Database<Record<string, unknown>>).rows<T>(statement);

  let skuCounter = 0;
  /** A fresh SKU with `units` on hand. */
  async function stocked(units: number): Promise<string> {
    const sku = `T-${++skuCounter}-${randomUUID().slice(0, 6).toUpperCase()}`;
    await inventory.adjustStock({ sku, delta: units, reason: "test delivery" });
    return sku;
  }

  async function level(sku: string) {
    const { levels } = await inventory.getStock({ skus: [sku] });
    return levels[0];
  }

  describe("GetStock and AdjustStock", () => {
    it("creates a SKU on its first delivery, adds and removes units, and reports in request order", async () => {
      const a = await stocked(10);
      const b = await stocked(3);
      const { level: adjusted } = await inventory.adjustStock({ sku: a, delta: -4, reason: "stocktake" });
      expect(adjusted).toMatchObject({ sku: a, onHand: 6, reserved: 0, available: 6 });
      expect(adjusted?.updateTime).toBeInstanceOf(Date);
      const { levels } = await inventory.getStock({ skus: [b, a] });
      expect(levels.map((stock) => [stock.sku, stock.onHand, stock.available])).toEqual([
        [b, 3, 3],
        [a, 6, 6],
      ]);
      const audit = await query<{ delta: number; reason: string; on_hand_after: number }>(sql`
        select delta, reason, on_hand_after from stock_adjustments where sku = ${a} order by id`);
      expect(audit.map((row) => [row.delta, row.reason, row.on_hand_after])).toEqual([
        [10, "test delivery", 10],
        [-4, "stocktake", 6],
      ]);
    });

    it("answers NOT_FOUND naming the SKUs it does not stock", async () => {
      const known = await stocked(1);
      await expectGrpcStatus(
        inventory.getStock({ skus: [known, "NOPE-1", "NOPE-2"] }),
        grpc.status.NOT_FOUND,
        "no stock entry for SKU NOPE-1, NOPE-2",
      );
    });

    it("never lets on-hand stock drop below what is reserved (FAILED_PRECONDITION)", async () => {
      const sku = await stocked(5);
      await inventory.reserveStock({ orderId: randomUUID(), lines: [{ sku, quantity: 3 }] });
      await expectGrpcStatus(
        inventory.adjustStock({ sku, delta: -3, reason: "broken" }),
        grpc.status.FAILED_PRECONDITION,
        `on-hand stock of ${sku} cannot drop below the 3 reserved units`,
      );
      await expectGrpcStatus(
        inventory.adjustStock({ sku: "BRAND-NEW-1", delta: -1, reason: "x" }),
        grpc.status.FAILED_PRECONDITION,
        "cannot drop below",
      );
      expect(await level(sku)).toMatchObject({ onHand: 5, reserved: 3, available: 2 });
    });

    it.each([
      ["GetStock without SKUs", () => ({ skus: [] as string[] }), "skus: must not be empty"],
      ["GetStock with a bad SKU", () => ({ skus: ["OK-1", "no good"] }), "skus[1]: must be upper case"],
    ])("%s is INVALID_ARGUMENT naming the field", async (_label, request, message) => {
      await expectGrpcStatus(inventory.getStock(request()), grpc.status.INVALID_ARGUMENT, message);
    });

    it.each([
      [{ sku: "", delta: 1, reason: "x" }, "sku: is required"],
      [{ sku: "lower", delta: 1, reason: "x" }, "sku: must be upper case"],
      [{ sku: "OK-1", delta: 0, reason: "x" }, "delta: must not be 0"],
      [{ sku: "OK-1", delta: 5_000_000, reason: "x" }, "delta: must be between"],
      [{ sku: "OK-1", delta: 1, reason: " " }, "reason: is required"],
    ])("AdjustStock %j is INVALID_ARGUMENT naming the field", async (request, message) => {
      await expectGrpcStatus(inventory.adjustStock(request), grpc.status.INVALID_ARGUMENT, message);
    });
  });

  describe("ReserveStock", () => {
    it("holds every line and publishes stock_reserved with the reservation", async () => {
      const a = await stocked(5);
      const b = await stocked(2);
      const orderId = randomUUID();
      const { reservation } = await inventory.reserveStock({
        orderId,
        lines: [
          { sku: b, quantity: 1 },
          { sku: a, quantity: 2 },
        ],
      });
      expect(reservation).toMatchObject({
        orderId,
        status: ReservationStatus.RESERVATION_STATUS_RESERVED,
        lines: [
          { sku: a, quantity: 2 },
          { sku: b, quantity: 1 },
        ],
      });
      const ttl = (reservation?.expireTime?.getTime() ?? 0) - (reservation?.createTime?.getTime() ?? 0);
      expect(ttl).toBe(900_000);
      expect(await level(a)).toMatchObject({ onHand: 5, reserved: 2, available: 3 });
      expect(await level(b)).toMatchObject({ onHand: 2, reserved: 1, available: 1 });

      const [published] = await events
        .waitFor(StockReservedEvent, (all) => all.some((event) => event.payload.reservation?.orderId === orderId))
        .then((all) => all.filter((event) => event.payload.reservation?.orderId === orderId));
      expect(published?.event).toMatchObject({
        aggregateType: "reservation",
        aggregateId: reservation?.reservationId,
        producer: "inventory",
      });
      expect(published?.payload.reservation).toEqual(reservation);
    });

    it("holds nothing when one line is short, naming every short SKU (FAILED_PRECONDITION)", async () => {
      const plenty = await stocked(100);
      const scarce = await stocked(1);
      await expectGrpcStatus(
        inventory.reserveStock({
          orderId: randomUUID(),
          lines: [
            { sku: plenty, quantity: 10 },
            { sku: scarce, quantity: 2 },
            { sku: "NEVER-STOCKED", quantity: 1 },
          ],
        }),
        grpc.status.FAILED_PRECONDITION,
        `out of stock: NEVER-STOCKED (not stocked), ${scarce} (2 requested, 1 available)`,
      );
      expect(await level(plenty)).toMatchObject({ reserved: 0, available: 100 });
      expect(await level(scarce)).toMatchObject({ reserved: 0, available: 1 });
    });

    it("is idempotent by order id: the same order gets its first reservation back and holds stock once", async () => {
      const sku = await stocked(10);
      const orderId = randomUUID();
      const first = await inventory.reserveStock({ orderId, lines: [{ sku, quantity: 4 }] });
      const again = await inventory.reserveStock({ orderId, lines: [{ sku, quantity: 4 }] });
      expect(again.reservation).toEqual(first.reservation);
      expect(await level(sku)).toMatchObject({ reserved: 4, available: 6 });
      const published = (await events.ofType(StockReservedEvent)).filter(
        (event) => event.payload.reservation?.orderId === orderId,
      );
      expect(published).toHaveLength(1);
    });

    it("refuses the same order id with different lines (FAILED_PRECONDITION) and keeps the first", async () => {
      const sku = await stocked(10);
      const orderId = randomUUID();
      await inventory.reserveStock({ orderId, lines: [{ sku, quantity: 1 }] });
      await expectGrpcStatus(
        inventory.reserveStock({ orderId, lines: [{ sku, quantity: 2 }] }),
        grpc.status.FAILED_PRECONDITION,
        `order ${orderId} already has a reservation`,
      );
      expect(await level(sku)).toMatchObject({ reserved: 1 });
    });

    it("returns a released reservation unchanged when the order reserves again (it does not hold anew)", async () => {
      const sku = await stocked(3);
      const orderId = randomUUID();
      await inventory.reserveStock({ orderId, lines: [{ sku, quantity: 1 }] });
      await inventory.releaseReservation({ orderId, reason: "payment declined" });
      const again = await inventory.reserveStock({ orderId, lines: [{ sku, quantity: 1 }] });
      expect(again.reservation?.status).toBe(ReservationStatus.RESERVATION_STATUS_RELEASED);
      expect(await level(sku)).toMatchObject({ reserved: 0, available: 3 });
    });

    it("publishes stock_depleted when a reservation takes the last available units", async () => {
      const sku = await stocked(2);
      await inventory.reserveStock({ orderId: randomUUID(), lines: [{ sku, quantity: 1 }] });
      await inventory.reserveStock({ orderId: randomUUID(), lines: [{ sku, quantity: 1 }] });
      const depleted = await events.waitFor(StockDepletedEvent, (all) => all.some((e) => e.payload.level?.sku === sku));
      const mine = depleted.filter((event) => event.payload.level?.sku === sku);
      expect(mine).toHaveLength(1);
      expect(mine[0]?.payload.level).toMatchObject({ sku, onHand: 2, reserved: 2, available: 0 });
      expect(mine[0]?.event).toMatchObject({ aggregateType: "stock", aggregateId: sku });
    });

    it.each([
      ["an empty order id", () => ({ orderId: "", lines: [{ sku: "A-1", quantity: 1 }] }), "order_id: is required"],
      [
        "an order id that is no UUID",
        () => ({ orderId: "o-1", lines: [{ sku: "A-1", quantity: 1 }] }),
        "order_id: must be a UUID",
      ],
      ["no lines", () => ({ orderId: randomUUID(), lines: [] }), "lines: must not be empty"],
      ["a bad SKU", () => ({ orderId: randomUUID(), lines: [{ sku: "a", quantity: 1 }] }), "lines[0].sku"],
      ["quantity 0", () => ({ orderId: randomUUID(), lines: [{ sku: "A-1", quantity: 0 }] }), "lines[0].quantity"],
      [
        "a SKU twice",
        () => ({
          orderId: randomUUID(),
          lines: [
            { sku: "A-1", quantity: 1 },
            { sku: "A-1", quantity: 1 },
          ],
        }),
        "lines[1].sku: A-1 appears twice",
      ],
    ])("with %s is INVALID_ARGUMENT naming the field", async (_label, request, message) => {
      await expectGrpcStatus(inventory.reserveStock(request()), grpc.status.INVALID_ARGUMENT, message);
    });
  });

  describe("under real concurrency (two replicas, one database)", () => {
    it("lets exactly 5 of 20 parallel one-unit reservations win 5 units, and stock never goes negative", async () => {
      const sku = await stocked(5);
      let sampling = true;
      const samples: number[] = [];
      const sampler = (async () => {
        while (sampling) {
          const [row] = await query<{ on_hand: number; reserved: number }>(sql`
            select on_hand, reserved from stock_levels where sku = ${sku}`);
          samples.push((row?.on_hand ?? 0) - (row?.reserved ?? 0));
        }
      })();
      const attempts = Array.from({ length: 20 }, (_, index) =>
        (index % 2 === 0 ? inventory : inventoryReplica)
          .reserveStock({ orderId: randomUUID(), lines: [{ sku, quantity: 1 }] })
          .then(
            () => "reserved",
            (error: grpc.ServiceError) => `${grpc.status[error.code]}: ${error.details}`,
          ),
      );
      const outcomes = await Promise.all(attempts);
      sampling = false;
      await sampler;
      expect(outcomes.filter((outcome) => outcome === "reserved")).toHaveLength(5);
      expect(outcomes.filter((outcome) => outcome !== "reserved")).toEqual(
        Array(15).fill(`FAILED_PRECONDITION: out of stock: ${sku} (1 requested, 0 available)`),
      );
      expect(await level(sku)).toMatchObject({ onHand: 5, reserved: 5, available: 0 });
      expect(samples.length).toBeGreaterThan(0);
      expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
      const [count] = await query<{ n: number }>(sql`
        select count(*)::int as n from reservation_lines where sku = ${sku}`);
      expect(count?.n).toBe(5);
    });

    it("gives the last unit to exactly one of many racers", async () => {
      const sku = await stocked(1);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, (_, index) =>
          (index % 2 === 0 ? inventory : inventoryReplica).reserveStock({
            orderId: randomUUID(),
            lines: [{ sku, quantity: 1 }],
          }),
        ),
      );
      expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(1);
      expect(await level(sku)).toMatchObject({ onHand: 1, reserved: 1, available: 0 });
    });

    it("reserves overlapping multi-SKU orders given in any line order without deadlocks", async () => {
      const skus = [await stocked(15), await stocked(15), await stocked(15), await stocked(15)];
      // 30 orders of 3 SKUs each, lines in shuffled order: 22 units asked of each SKU, 15 there.
      const orders = Array.from({ length: 30 }, (_, index) => {
        const chosen = skus.filter((_, skuIndex) => skuIndex !== index % 4);
        const shuffled =
          index % 3 === 0 ? chosen.reverse() : index % 3 === 1 ? [chosen[1], chosen[2], chosen[0]] : chosen;
        return { orderId: randomUUID(), lines: shuffled.map((sku) => ({ sku: sku as string, quantity: 1 })) };
      });
      const outcomes = await Promise.all(
        orders.map((order, index) =>
          (index % 2 === 0 ? inventory : inventoryReplica).reserveStock(order).then(
            (response) => ({ ok: true as const, lines: response.reservation?.lines ?? [] }),
            (error: grpc.ServiceError) => ({ ok: false as const, code: grpc.status[error.code] }),
          ),
        ),
      );
      // Every failure is a clean "out of stock", never a deadlock or an internal error.
      expect(new Set(outcomes.filter((o) => !o.ok).map((o) => (o.ok ? "" : o.code)))).toEqual(
        outcomes.some((o) => !o.ok) ? new Set(["FAILED_PRECONDITION"]) : new Set(),
      );
      const reservedPerSku = new Map<string, number>();
      for (const outcome of outcomes) {
        if (outcome.ok)
          for (const line of outcome.lines) reservedPerSku.set(line.sku, (reservedPerSku.get(line.sku) ?? 0) + 1);
      }
      const { levels } = await inventory.getStock({ skus });
      for (const stock of levels) {
        expect(stock.reserved).toBe(reservedPerSku.get(stock.sku) ?? 0);
        expect(stock.available).toBeGreaterThanOrEqual(0);
      }
    });

    it("makes one reservation when the same order is reserved many times at once", async () => {
      const sku = await stocked(50);
      const orderId = randomUUID();
      const responses = await Promise.all(
        Array.from({ length: 10 }, (_, index) =>
          (index % 2 === 0 ? inventory : inventoryReplica).reserveStock({ orderId, lines: [{ sku, quantity: 3 }] }),
        ),
      );
      expect(new Set(responses.map((response) => response.reservation?.reservationId)).size).toBe(1);
      expect(await level(sku)).toMatchObject({ reserved: 3, available: 47 });
    });
  });

  describe("CommitReservation and ReleaseReservation", () => {
    it("commits a hold into a deduction from on-hand stock, idempotently", async () => {
      const sku = await stocked(5);
      const orderId = randomUUID();
      await inventory.reserveStock({ orderId, lines: [{ sku, quantity: 2 }] });
      const { reservation } = await inventory.commitReservation({ orderId });
      expect(reservation?.status).toBe(ReservationStatus.RESERVATION_STATUS_COMMITTED);
      expect(await level(sku)).toMatchObject({ onHand: 3, reserved: 0, available: 3 });
      const again = await inventory.commitReservation({ orderId });
      expect(again.reservation).toEqual(reservation);
      expect(await level(sku)).toMatchObject({ onHand: 3, reserved: 0, available: 3 });
    });

    it("releases a hold (units available again), idempotently, with one stock_released event", async () => {
      const sku = await stocked(4);
      const orderId = randomUUID();
      await inventory.reserveStock({ orderId, lines: [{ sku, quantity: 4 }] });
      const { reservation } = await inventory.releaseReservation({ orderId, reason: "payment declined" });
      expect(reservation?.status).toBe(ReservationStatus.RESERVATION_STATUS_RELEASED);
      expect(await level(sku)).toMatchObject({ onHand: 4, reserved: 0, available: 4 });
      const again = await inventory.releaseReservation({ orderId, reason: "again" });
      expect(again.reservation).toEqual(reservation);
      expect(await level(sku)).toMatchObject({ onHand: 4, reserved: 0, available: 4 });

      const released = await events.waitFor(StockReleasedEvent, (all) =>
        all.some((event) => event.payload.reservation?.orderId === orderId),
      );
      const mine = released.filter((event) => event.payload.reservation?.orderId === orderId);
      expect(mine).toHaveLength(1);
      expect(mine[0]?.payload).toMatchObject({
        reason: "payment declined",
        reservation: { status: ReservationStatus.RESERVATION_STATUS_RELEASED, lines: [{ sku, quantity: 4 }] },
      });
    });

    it("returns committed units to on-hand stock when a confirmed order is cancelled before shipping", async () => {
      const sku = await stocked(6);
      const orderId = randomUUID();
      await inventory.reserveStock({ orderId, lines: [{ sku, quantity: 2 }] });
      await inventory.commitReservation({ orderId });
      expect(await level(sku)).toMatchObject({ onHand: 4, reserved: 0 });
      const { reservation } = await inventory.releaseReservation({ orderId, reason: "cancelled by the customer" });
      expect(reservation?.status).toBe(ReservationStatus.RESERVATION_STATUS_RELEASED);
      expect(await level(sku)).toMatchObject({ onHand: 6, reserved: 0, available: 6 });
    });

    it("refuses to commit a released reservation (FAILED_PRECONDITION)", async () => {
      const sku = await stocked(1);
      const orderId = randomUUID();
      await inventory.reserveStock({ orderId, lines: [{ sku, quantity: 1 }] });
      await inventory.releaseReservation({ orderId, reason: "payment declined" });
      await expectGrpcStatus(
        inventory.commitReservation({ orderId }),
        grpc.status.FAILED_PRECONDITION,
        "was released (payment declined); it can no longer be committed",
      );
    });

    it("answers NOT_FOUND for an order without a reservation", async () => {
      const orderId = randomUUID();
      await expectGrpcStatus(
        inventory.commitReservation({ orderId }),
        grpc.status.NOT_FOUND,
        `order ${orderId} has no reservation`,
      );
      await expectGrpcStatus(
        inventory.releaseReservation({ orderId, reason: "" }),
        grpc.status.NOT_FOUND,
        `order ${orderId} has no reservation`,
      );
    });

    it.each([
      ["CommitReservation", (client: Inventory) => client.commitReservation({ orderId: "x" })],
      ["ReleaseReservation", (client: Inventory) => client.releaseReservation({ orderId: "", reason: "" })],
    ])("%s with a bad order id is INVALID_ARGUMENT naming order_id", async (_label, call) => {
      await expectGrpcStatus(call(inventory), grpc.status.INVALID_ARGUMENT, /^order_id: /);
    });

    it("ReleaseReservation with a reason over 500 characters is INVALID_ARGUMENT naming reason", async () => {
      await expectGrpcStatus(
        inventory.releaseReservation({ orderId: randomUUID(), reason: "x".repeat(501) }),
        grpc.status.INVALID_ARGUMENT,
        "reason: must have at most 500 characters",
      );
    });
  });

  describe("consuming agora.catalog.product_created", () => {
    const product = (productId: string, sku: string) => ({
      productId,
      sku,
      name: productId,
      description: "",
      category: "test",
      price: { currencyCode: "EUR", units: 10, nanos: 0 },
      imageUrl: "",
      createTime: new Date(),
      updateTime: new Date(),
    });

    async function consumed(outcome: "applied" | "duplicate"): Promise<number> {
      const text = await (await fetch(service.metricsUrl)).text();
      const replicaText = await (await fetch(replica.metricsUrl)).text();
      const pattern = new RegExp(
        `agora_events_consumed_total\\{[^}]*event_type="agora.catalog.product_created"[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`,
      );
      return [text, replicaText].reduce((sum, body) => sum + Number(pattern.exec(body)?.[1] ?? 0), 0);
    }

    it("creates a zero-stock entry for a new product, once, even when the event is delivered again", async () => {
      const sku = `NEW-${randomUUID().slice(0, 8).toUpperCase()}`;
      const recorded = await catalog.publish(
        ProductCreatedEvent,
        { product: product("new-thing", sku) },
        { aggregateId: "new-thing" },
      );
      await waitUntil(
        () =>
          inventory.getStock({ skus: [sku] }).then(
            () => true,
            () => false,
          ),
        10_000,
        "stock entry created",
      );
      expect(await level(sku)).toMatchObject({ sku, onHand: 0, reserved: 0, available: 0 });
      await expectGrpcStatus(
        inventory.reserveStock({ orderId: randomUUID(), lines: [{ sku, quantity: 1 }] }),
        grpc.status.FAILED_PRECONDITION,
        `out of stock: ${sku} (1 requested, 0 available)`,
      );

      // A delivery arrives, then the same event again: the inbox skips it.
      await inventory.adjustStock({ sku, delta: 7, reason: "first delivery" });
      const duplicatesBefore = await consumed("duplicate");
      await catalog.redeliver(recorded.eventId);
      await waitUntil(async () => (await consumed("duplicate")) === duplicatesBefore + 1, 10_000, "redelivery skipped");
      expect(await level(sku)).toMatchObject({ onHand: 7 });
      const [inbox] = await query<{ n: number }>(sql`
        select count(*)::int as n from agora_processed_events where event_id = ${recorded.eventId}`);
      expect(inbox?.n).toBe(1);
    });

    it("leaves the stock of a SKU it knows alone", async () => {
      const sku = await stocked(9);
      await catalog.publish(ProductCreatedEvent, { product: product("renamed", sku) }, { aggregateId: "renamed" });
      await waitUntil(async () => (await consumed("applied")) >= 2, 10_000, "event applied");
      expect(await level(sku)).toMatchObject({ onHand: 9 });
    });
  });
});
