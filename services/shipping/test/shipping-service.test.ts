import { randomUUID } from "node:crypto";
import { PassThrough } from "node:stream";
import {
  OrderCancelledEvent,
  OrderConfirmedEvent,
  ShipmentCancelledEvent,
  ShipmentCreatedEvent,
  ShipmentDispatchedEvent,
} from "@agora/contracts";
import { type Order, OrderStatus } from "@agora/contracts/agora/order/v1/order";
import { ShipmentStatus } from "@agora/contracts/agora/shipping/v1/shipment";
import { ShippingServiceService } from "@agora/contracts/agora/shipping/v1/shipping_service";
import { createClient, type PromiseClient, type RunningService } from "@agora/service-kit";
import {
  createTestDatabase,
  EventProbe,
  expectGrpcStatus,
  grpcOutcome,
  startTestNats,
  type TestDatabase,
  TestEventProducer,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import * as grpc from "@grpc/grpc-js";
import { sql } from "drizzle-orm";
import pino from "pino";
import { shippingService } from "../src/main";
import { isValidTrackingNumber } from "../src/tracking-numbers";
import { berlin, confirmedOrder } from "./orders";

type Shipping = PromiseClient<typeof ShippingServiceService>;

describe("shipping service on real Postgres and NATS", () => {
  let database: TestDatabase;
  let nats: TestNats;
  let running: RunningService<unknown, Record<string, unknown>>;
  let shipping: Shipping;
  let orders: TestEventProducer;
  let events: EventProbe;
  const logLines: string[] = [];

  beforeAll(async () => {
    database = await createTestDatabase("shipping");
    nats = await startTestNats();
    const logs = new PassThrough();
    logs.on("data", (chunk: Buffer) => logLines.push(...chunk.toString().split("\n").filter(Boolean)));
    running = await shippingService.start({
      env: {
        GRPC_HOST: "127.0.0.1",
        GRPC_PORT: "0",
        METRICS_PORT: "0",
        LOG_LEVEL: "info",
        LOG_FORMAT: "json",
        DATABASE_URL: database.url,
        NATS_URL: nats.url,
        NATS_SUBJECT_PREFIX: nats.subjectPrefix,
        OUTBOX_POLL_INTERVAL_MS: "100",
        DISPATCH_DELAY_MS: "800",
        DISPATCH_SWEEP_INTERVAL_MS: "50",
      },
      logDestination: logs,
    });
    shipping = createClient(ShippingServiceService, running.address, {
      downstream: "shipping",
      logger: pino({ level: "silent" }),
      policies: { maxAttempts: 1, breaker: false },
    });
    orders = await TestEventProducer.start({
      nats,
      producer: "order",
      publishes: [OrderConfirmedEvent, OrderCancelledEvent],
    });
    events = await EventProbe.connect(nats.url, nats.subjectPrefix);
  });

  afterAll(async () => {
    await events.close();
    await orders.close();
    shipping.close();
    await running.stop();
    await database.drop();
    await nats.close();
  });

  const confirm = (order: Order) => orders.publish(OrderConfirmedEvent, { order }, { aggregateId: order.orderId });
  const cancel = (order: Order, reason = "changed my mind") =>
    orders.publish(
      OrderCancelledEvent,
      { order: { ...order, status: OrderStatus.ORDER_STATUS_CANCELLED }, reason },
      { aggregateId: order.orderId },
    );

  async function shipmentOf(orderId: string) {
    return shipping.getShipment({ shipmentId: "", orderId }).then(
      (response) => response.shipment,
      () => undefined,
    );
  }

  async function consumed(outcome: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${running.metricsPort}/metrics`)).text();
    let total = 0;
    for (const match of text.matchAll(
      new RegExp(`agora_events_consumed_total\\{[^}]*outcome="${outcome}"[^}]*\\} (\\d+)`, "g"),
    ))
      total += Number(match[1]);
    return total;
  }

  describe("GetQuote", () => {
    it("prices shipping by destination and units, deterministically", async () => {
      const items = [
        { sku: "AG-KIT-001", quantity: 1 },
        { sku: "AG-COF-002", quantity: 2 },
      ];
      const domestic = await shipping.getQuote({ address: berlin, items });
      expect(domestic.quote).toEqual({
        cost: { currencyCode: "EUR", units: 5, nanos: 900_000_000 },
        carrier: "agora-post",
        estimatedDays: 2,
      });
      expect((await shipping.getQuote({ address: berlin, items })).quote).toEqual(domestic.quote);
      const tokyo = await shipping.getQuote({
        address: { ...berlin, city: "Tokyo", postalCode: "100-0001", countryCode: "JP" },
        items,
      });
      expect(tokyo.quote).toEqual({
        cost: { currencyCode: "EUR", units: 29, nanos: 900_000_000 },
        carrier: "agora-global",
        estimatedDays: 8,
      });
    });

    it.each([
      ["no address", { address: undefined }, "address: is required"],
      [
        "country XX",
        { address: { ...berlin, countryCode: "XX" } },
        "address.country_code: XX is not an ISO 3166-1 country code",
      ],
      [
        "postal code ABC in DE",
        { address: { ...berlin, postalCode: "ABC" } },
        "address.postal_code: is not a postal code of DE",
      ],
      ["no address lines", { address: { ...berlin, addressLines: [] } }, "address.address_lines: must not be empty"],
      ["no recipient", { address: { ...berlin, recipientName: "" } }, "address.recipient_name: is required"],
      ["no city", { address: { ...berlin, city: "" } }, "address.city: is required"],
      ["no items", { items: [] }, "items: must not be empty"],
      ["quantity 0", { items: [{ sku: "AG-1", quantity: 0 }] }, "items[0].quantity: must be between 1 and 1000"],
      ["a bad SKU", { items: [{ sku: "bad sku", quantity: 1 }] }, "items[0].sku: must be upper case"],
    ])("rejects %s as INVALID_ARGUMENT naming the field", async (_label, overrides, message) => {
      await expectGrpcStatus(
        shipping.getQuote({ address: berlin, items: [{ sku: "AG-1", quantity: 1 }], ...overrides }),
        grpc.status.INVALID_ARGUMENT,
        message,
      );
    });
  });

  describe("a shipment for every confirmed order", () => {
    it("creates the shipment on order.confirmed, then dispatches it after DISPATCH_DELAY_MS with a tracking number", async () => {
      const order = confirmedOrder();
      await confirm(order);
      await waitUntil(async () => (await shipmentOf(order.orderId)) !== undefined, 10_000, "shipment created");
      const created = await shipmentOf(order.orderId);
      expect(created).toMatchObject({
        orderId: order.orderId,
        customerId: "customer-1",
        status: ShipmentStatus.SHIPMENT_STATUS_CREATED,
        address: berlin,
        items: [
          { sku: "AG-KIT-001", quantity: 1 },
          { sku: "AG-COF-002", quantity: 2 },
        ],
        quote: { cost: { currencyCode: "EUR", units: 5, nanos: 900_000_000 }, carrier: "agora-post", estimatedDays: 2 },
        trackingNumber: "",
      });
      expect(created?.dispatchTime).toBeUndefined();

      const [createdEvent] = (
        await events.waitFor(ShipmentCreatedEvent, (all) =>
          all.some((e) => e.payload.shipment?.orderId === order.orderId),
        )
      ).filter((e) => e.payload.shipment?.orderId === order.orderId);
      expect(createdEvent?.event).toMatchObject({
        aggregateType: "shipment",
        aggregateId: created?.shipmentId,
        producer: "shipping",
      });
      expect(createdEvent?.payload.shipment).toEqual(created);

      const dispatchedEvents = await events.waitFor(ShipmentDispatchedEvent, (all) =>
        all.some((e) => e.payload.shipment?.orderId === order.orderId),
      );
      const dispatched = await shipmentOf(order.orderId);
      expect(dispatched?.status).toBe(ShipmentStatus.SHIPMENT_STATUS_DISPATCHED);
      expect(isValidTrackingNumber(dispatched?.trackingNumber ?? "")).toBe(true);
      const delay = (dispatched?.dispatchTime?.getTime() ?? 0) - (created?.createTime?.getTime() ?? 0);
      expect(delay).toBeGreaterThanOrEqual(800);
      expect(delay).toBeLessThan(8000);
      expect(dispatchedEvents.filter((e) => e.payload.shipment?.orderId === order.orderId)).toEqual([
        expect.objectContaining({ payload: { shipment: dispatched } }),
      ]);
    });

    it("applies a redelivered order.confirmed once: one shipment, one shipment_created", async () => {
      const order = confirmedOrder();
      const recorded = await confirm(order);
      await waitUntil(async () => (await shipmentOf(order.orderId)) !== undefined, 10_000, "shipment created");
      const duplicates = await consumed("duplicate");
      await orders.redeliver(recorded.eventId);
      // The same order confirmed again under a new event id (a producer bug, say) also finds the shipment.
      await confirm(order);
      await waitUntil(async () => (await consumed("duplicate")) === duplicates + 1, 10_000, "redelivery skipped");
      await events.waitFor(ShipmentDispatchedEvent, (all) =>
        all.some((e) => e.payload.shipment?.orderId === order.orderId),
      );
      const created = (await events.ofType(ShipmentCreatedEvent)).filter(
        (e) => e.payload.shipment?.orderId === order.orderId,
      );
      const dispatched = (await events.ofType(ShipmentDispatchedEvent)).filter(
        (e) => e.payload.shipment?.orderId === order.orderId,
      );
      expect([created.length, dispatched.length]).toEqual([1, 1]);
    });

    it("calls off a shipment whose order is cancelled before dispatch: CANCELLED, shipment_cancelled, never dispatched", async () => {
      const order = confirmedOrder();
      await confirm(order);
      await waitUntil(async () => (await shipmentOf(order.orderId)) !== undefined, 10_000, "shipment created");
      await cancel(order, "found it cheaper");
      await waitUntil(
        async () => (await shipmentOf(order.orderId))?.status === ShipmentStatus.SHIPMENT_STATUS_CANCELLED,
        10_000,
        "shipment cancelled",
      );
      const cancelled = await events.waitFor(ShipmentCancelledEvent, (all) =>
        all.some((e) => e.payload.shipment?.orderId === order.orderId),
      );
      expect(cancelled.filter((e) => e.payload.shipment?.orderId === order.orderId)).toHaveLength(1);
      // Well past the dispatch delay: still cancelled, nothing dispatched.
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect((await shipmentOf(order.orderId))?.status).toBe(ShipmentStatus.SHIPMENT_STATUS_CANCELLED);
      expect(
        (await events.ofType(ShipmentDispatchedEvent)).filter((e) => e.payload.shipment?.orderId === order.orderId),
      ).toEqual([]);
    });

    it("creates no shipment when the cancellation is consumed before the confirmation", async () => {
      const order = confirmedOrder();
      await cancel(order);
      await waitUntil(
        async () => logLines.some((line) => line.includes(order.orderId) && line.includes("order cancelled")),
        10_000,
        "cancel consumed",
      );
      await confirm(order);
      await waitUntil(
        async () =>
          logLines.some((line) => line.includes(order.orderId) && line.includes("confirmed after it was cancelled")),
        10_000,
        "confirmation consumed",
      );
      expect(await shipmentOf(order.orderId)).toBeUndefined();
    });

    it("logs, and leaves alone, a cancellation that comes after the parcel was dispatched", async () => {
      const order = confirmedOrder();
      await confirm(order);
      await events.waitFor(ShipmentDispatchedEvent, (all) =>
        all.some((e) => e.payload.shipment?.orderId === order.orderId),
      );
      await cancel(order);
      await waitUntil(
        async () =>
          logLines.some((line) => line.includes(order.orderId) && line.includes("after its shipment was dispatched")),
        10_000,
        "late cancellation logged",
      );
      expect((await shipmentOf(order.orderId))?.status).toBe(ShipmentStatus.SHIPMENT_STATUS_DISPATCHED);
      expect(
        (await events.ofType(ShipmentCancelledEvent)).filter((e) => e.payload.shipment?.orderId === order.orderId),
      ).toEqual([]);
    });

    it("sends a confirmed order without a shipping address to the dead letters instead of retrying it", async () => {
      const deadBefore = await consumed("dead_lettered");
      const order = confirmedOrder({ shippingAddress: undefined });
      await confirm(order);
      await waitUntil(async () => (await consumed("dead_lettered")) === deadBefore + 1, 10_000, "dead-lettered");
      expect(await shipmentOf(order.orderId)).toBeUndefined();
    });
  });

  describe("CancelShipment (the order service stopping a confirmed order's shipment)", () => {
    const cancelShipment = (orderId: string, reason = "changed my mind") =>
      shipping.cancelShipment({ orderId, reason });

    function database() {
      if (!running.database) throw new Error("shipping runs without a database");
      return running.database;
    }

    /** Rows of a query on the shipping database. */
    function query<T extends Record<string, unknown>>(statement: ReturnType<typeof sql>): Promise<T[]> {
      return database().rows<T>(statement);
    }

    /** Locks of this test's database that someone waits for, by lock type ("relation", "advisory"). */
    async function waitingLocks(locktype: string): Promise<number> {
      const [row] = await query<{ n: number }>(sql`
        select count(*)::int as n from pg_locks
        where not granted and locktype = ${locktype}
          and database = (select oid from pg_database where datname = current_database())`);
      return row?.n ?? 0;
    }

    it("calls off a shipment that has not left: CANCELLED, shipment_cancelled, never dispatched; again, the same answer", async () => {
      const order = confirmedOrder();
      await confirm(order);
      await waitUntil(async () => (await shipmentOf(order.orderId)) !== undefined, 10_000, "shipment created");
      const { shipment } = await cancelShipment(order.orderId, "found it cheaper");
      expect(shipment).toMatchObject({ orderId: order.orderId, status: ShipmentStatus.SHIPMENT_STATUS_CANCELLED });
      expect((await cancelShipment(order.orderId)).shipment).toEqual(shipment);
      await events.waitFor(ShipmentCancelledEvent, (all) =>
        all.some((e) => e.payload.shipment?.orderId === order.orderId),
      );
      // Well past the dispatch delay, and after order.cancelled arrives too: still cancelled, once.
      await cancel(order, "found it cheaper");
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect((await shipmentOf(order.orderId))?.status).toBe(ShipmentStatus.SHIPMENT_STATUS_CANCELLED);
      expect(
        (await events.ofType(ShipmentCancelledEvent)).filter((e) => e.payload.shipment?.orderId === order.orderId),
      ).toHaveLength(1);
      expect(
        (await events.ofType(ShipmentDispatchedEvent)).filter((e) => e.payload.shipment?.orderId === order.orderId),
      ).toEqual([]);
    });

    it("records the cancellation of an order shipping has not heard of yet: its confirmation then creates nothing", async () => {
      const order = confirmedOrder();
      expect((await cancelShipment(order.orderId)).shipment).toBeUndefined();
      await confirm(order);
      await waitUntil(
        async () =>
          logLines.some((line) => line.includes(order.orderId) && line.includes("confirmed after it was cancelled")),
        10_000,
        "confirmation consumed",
      );
      expect(await shipmentOf(order.orderId)).toBeUndefined();
    });

    it("refuses once the parcel has left (FAILED_PRECONDITION) and changes nothing", async () => {
      const order = confirmedOrder();
      await confirm(order);
      await waitUntil(
        async () => (await shipmentOf(order.orderId))?.status === ShipmentStatus.SHIPMENT_STATUS_DISPATCHED,
        10_000,
        "dispatched",
      );
      const dispatched = await shipmentOf(order.orderId);
      await expectGrpcStatus(
        cancelShipment(order.orderId),
        grpc.status.FAILED_PRECONDITION,
        `order ${order.orderId}: shipment ${dispatched?.shipmentId} was dispatched at ${dispatched?.dispatchTime?.toISOString()}, tracking number ${dispatched?.trackingNumber}; it can no longer be cancelled`,
      );
      expect(await shipmentOf(order.orderId)).toEqual(dispatched);
      expect(await query(sql`select * from cancelled_orders where order_id = ${order.orderId}`)).toEqual([]);
    });

    it("never lets a cancellation and a confirmation consumed at the same moment both win", async () => {
      // The confirmation's consumer is held just before it inserts the shipment (a SHARE lock on the
      // table blocks inserts, not reads): it has already looked for a cancellation and found none.
      // CancelShipment then comes; without one lock for both per order it would find no shipment,
      // record the cancellation and answer OK — and the shipment inserted next would be dispatched.
      const order = confirmedOrder();
      let release = () => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      let holding = () => {};
      const held = new Promise<void>((resolve) => {
        holding = resolve;
      });
      const holder = database().db.transaction(async (tx) => {
        await tx.execute(sql`lock table shipments in share mode`);
        holding();
        await released;
      });
      let cancelled: Promise<string> | undefined;
      try {
        await held;
        await confirm(order);
        await waitUntil(async () => (await waitingLocks("relation")) > 0, 10_000, "the confirmation waiting to insert");
        let settled = false;
        cancelled = grpcOutcome(cancelShipment(order.orderId)).finally(() => {
          settled = true;
        });
        await waitUntil(
          async () => settled || (await waitingLocks("advisory")) > 0,
          10_000,
          "CancelShipment answered or waiting for the order's lock",
        );
      } finally {
        release();
        await holder;
      }
      expect(await cancelled).toBe("OK");
      await waitUntil(async () => (await shipmentOf(order.orderId)) !== undefined, 10_000, "shipment created");
      // Past the dispatch delay (800 ms): the shipment was called off, not dispatched.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect((await shipmentOf(order.orderId))?.status).toBe(ShipmentStatus.SHIPMENT_STATUS_CANCELLED);
      expect(
        (await events.ofType(ShipmentDispatchedEvent)).filter((e) => e.payload.shipment?.orderId === order.orderId),
      ).toEqual([]);
    });

    it("names the field of bad input (INVALID_ARGUMENT)", async () => {
      await expectGrpcStatus(
        shipping.cancelShipment({ orderId: "42", reason: "" }),
        grpc.status.INVALID_ARGUMENT,
        "order_id: must be a UUID such as 0b6e1c1e-5d1b-4c55-9d3f-2c1e0f0a9b11",
      );
      await expectGrpcStatus(
        shipping.cancelShipment({ orderId: randomUUID(), reason: "x".repeat(501) }),
        grpc.status.INVALID_ARGUMENT,
        "reason: must have at most 500 characters",
      );
    });
  });

  describe("GetShipment", () => {
    let shipmentId: string;
    let orderId: string;

    beforeAll(async () => {
      const order = confirmedOrder({ customerId: "customer-9" });
      orderId = order.orderId;
      await confirm(order);
      await waitUntil(async () => (await shipmentOf(orderId)) !== undefined, 10_000, "shipment created");
      shipmentId = (await shipmentOf(orderId))?.shipmentId ?? "";
    });

    it("finds a shipment by its id or its order's id", async () => {
      const byId = await shipping.getShipment({ shipmentId, orderId: "" });
      const byOrder = await shipping.getShipment({ shipmentId: "", orderId });
      expect(byId.shipment?.shipmentId).toBe(shipmentId);
      expect(byOrder.shipment?.shipmentId).toBe(shipmentId);
    });

    it("hides another customer's shipment from a customer (NOT_FOUND)", async () => {
      const asCustomer = (customerId: string) =>
        shipping.getShipment({ shipmentId, orderId: "" }, { metadata: { "x-agora-customer-id": customerId } });
      expect((await asCustomer("customer-9")).shipment?.shipmentId).toBe(shipmentId);
      await expectGrpcStatus(asCustomer("customer-1"), grpc.status.NOT_FOUND, "not found");
    });

    it("answers NOT_FOUND for an unknown id and INVALID_ARGUMENT naming the field for bad requests", async () => {
      await expectGrpcStatus(
        shipping.getShipment({ shipmentId: randomUUID(), orderId: "" }),
        grpc.status.NOT_FOUND,
        "not found",
      );
      await expectGrpcStatus(
        shipping.getShipment({ shipmentId: "", orderId: "" }),
        grpc.status.INVALID_ARGUMENT,
        "shipment_id: is required (or give order_id instead)",
      );
      await expectGrpcStatus(
        shipping.getShipment({ shipmentId, orderId }),
        grpc.status.INVALID_ARGUMENT,
        "order_id: give either shipment_id or order_id, not both",
      );
      await expectGrpcStatus(
        shipping.getShipment({ shipmentId: "s-1", orderId: "" }),
        grpc.status.INVALID_ARGUMENT,
        "shipment_id: must be a UUID",
      );
    });
  });
});
