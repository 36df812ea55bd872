import {
  OrderCancelledEvent,
  OrderConfirmedEvent,
  OrderPlacedEvent,
  OrderShippedEvent,
  ShipmentCreatedEvent,
  ShipmentDispatchedEvent,
} from "@agora/contracts";
import { OrderServiceService } from "@agora/contracts/agora/order/v1/order_service";
import type { Shipment } from "@agora/contracts/agora/shipping/v1/shipment";
import { ShipmentStatus } from "@agora/contracts/agora/shipping/v1/shipment";
import { type Db, Outbox, type PromiseClient } from "@agora/service-kit";
import {
  createTestDatabase,
  EventProbe,
  type StartedService,
  startService,
  startTestNats,
  type TestDatabase,
  TestEventProducer,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import { asc, eq, sql } from "drizzle-orm";
import type * as schema from "../src/db/schema";
import { orderSagaLog } from "../src/db/schema";
import { orderService } from "../src/main";
import { type OrderSchema, OrderStore } from "../src/order-store";
import { statusName } from "./support/orders";

// The order service's consumer of shipping's events on a real NATS and Postgres: shipping is played
// by a TestEventProducer (events through a real outbox and relay), and the orders it ships are put
// in place through the order store itself — the saga that normally confirms them is not what this
// file tests (order-flow.test.ts runs the whole thing with the real services).

const orderEvents = [OrderPlacedEvent, OrderConfirmedEvent, OrderCancelledEvent, OrderShippedEvent];

describe("order service consuming shipping events", () => {
  let nats: TestNats;
  let database: TestDatabase;
  let service: StartedService<unknown, Record<string, unknown>>;
  let orders: PromiseClient<typeof OrderServiceService>;
  let store: OrderStore;
  let shipping: TestEventProducer;
  let probe: EventProbe;
  let keys = 0;

  beforeAll(async () => {
    nats = await startTestNats();
    database = await createTestDatabase("order_shipping_events");
    service = await startService(orderService, {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      NATS_SUBJECT_PREFIX: nats.subjectPrefix,
      OUTBOX_POLL_INTERVAL_MS: "100",
      // No downstream answers here: the orders' sagas are finished by hand below.
      INVENTORY_ADDR: "127.0.0.1:1",
      PAYMENT_ADDR: "127.0.0.1:1",
      CATALOG_ADDR: "127.0.0.1:1",
      SHIPPING_ADDR: "127.0.0.1:1",
    });
    orders = service.client(OrderServiceService);
    store = new OrderStore(db(), new Outbox("order", orderEvents));
    shipping = await TestEventProducer.start({
      nats,
      producer: "shipping",
      publishes: [ShipmentCreatedEvent, ShipmentDispatchedEvent],
    });
    probe = await EventProbe.connect(nats.url, nats.subjectPrefix);
  }, 60_000);

  afterAll(async () => {
    await probe?.close();
    await shipping?.close();
    await service?.stop();
    await database?.drop();
    await nats?.close();
  });

  function db() {
    const opened = service.running.database;
    if (!opened) throw new Error("no database");
    return opened.db as unknown as Db<OrderSchema>;
  }

  /** An order in `status` whose saga is done, as the saga would have left it. */
  async function orderIn(status: schema.OrderStatusName): Promise<string> {
    const { view } = await store.place(
      {
        customerId: "customer-ship",
        idempotencyKey: `shipping-events-${++keys}`,
        requestHash: "h",
        currency: "EUR",
        lines: [
          { productId: "burr-grinder", sku: "AG-COF-002", name: "Burr Grinder", quantity: 1, unitPriceNanos: 1n },
        ],
        shippingAddress: {
          recipientName: "Ada",
          addressLines: ["1 Road"],
          city: "London",
          postalCode: "N1",
          countryCode: "GB",
          region: "",
        },
        paymentMethodId: "pm",
        paymentMethodSummary: "visa •••• 4242",
      },
      { deadlineMs: 3_600_000, correlationId: "c", traceHeaders: {} },
    );
    const orderId = view.order.orderId;
    await db().transaction(async (tx) => {
      await tx.execute(sql`update order_sagas set step = 'DONE', completed_at = now() where order_id = ${orderId}`);
      await store.changeStatus(tx, orderId, { status, reason: "" });
    });
    return orderId;
  }

  function shipment(orderId: string, status: ShipmentStatus): Shipment {
    return {
      shipmentId: `shp-${orderId.slice(0, 8)}`,
      orderId,
      customerId: "customer-ship",
      status,
      items: [{ sku: "AG-COF-002", quantity: 1 }],
      trackingNumber: status === ShipmentStatus.SHIPMENT_STATUS_DISPATCHED ? "AGP123456" : "",
    };
  }

  async function log(orderId: string) {
    return db()
      .select({ outcome: orderSagaLog.outcome, detail: orderSagaLog.detail })
      .from(orderSagaLog)
      .where(eq(orderSagaLog.orderId, orderId))
      .orderBy(asc(orderSagaLog.id));
  }

  async function shippedEvents(orderId: string) {
    return (await probe.ofType(OrderShippedEvent)).filter((probed) => probed.event.aggregateId === orderId);
  }

  it("ships a CONFIRMED order once, however often the dispatch arrives", async () => {
    const orderId = await orderIn("CONFIRMED");
    const dispatched = await shipping.publish(
      ShipmentDispatchedEvent,
      { shipment: shipment(orderId, ShipmentStatus.SHIPMENT_STATUS_DISPATCHED) },
      { aggregateId: `shp-${orderId.slice(0, 8)}` },
    );
    await waitUntil(
      async () => statusName((await orders.getOrder({ orderId })).order?.status ?? 0) === "SHIPPED",
      10_000,
      "SHIPPED",
    );
    const { order } = await orders.getOrder({ orderId });
    expect(order?.statusReason).toBe(`shipment shp-${orderId.slice(0, 8)} dispatched, tracking number AGP123456`);
    await probe.waitFor(OrderShippedEvent, (events) => events.some((probed) => probed.event.aggregateId === orderId));

    // The same event again (inbox) and a second dispatch event for the same shipment (already SHIPPED).
    await shipping.redeliver(dispatched.eventId);
    await shipping.publish(
      ShipmentDispatchedEvent,
      { shipment: shipment(orderId, ShipmentStatus.SHIPMENT_STATUS_DISPATCHED) },
      { aggregateId: `shp-${orderId.slice(0, 8)}` },
    );
    // A later event on the same stream proves the consumer got past both.
    await shipping.publish(
      ShipmentCreatedEvent,
      { shipment: shipment(orderId, ShipmentStatus.SHIPMENT_STATUS_CREATED) },
      { aggregateId: `shp-${orderId.slice(0, 8)}` },
    );
    await waitUntil(
      async () => (await log(orderId)).some((entry) => entry.outcome === "shipment-created"),
      10_000,
      "shipment_created handled",
    );
    const again = await orders.getOrder({ orderId });
    expect(again.order?.history.map((change) => statusName(change.status))).toEqual([
      "PENDING",
      "CONFIRMED",
      "SHIPPED",
    ]);
    expect(await shippedEvents(orderId)).toHaveLength(1);
  });

  it("leaves a CONFIRMED order whose cancellation is asking shipping to the saga, and notes the dispatch", async () => {
    const orderId = await orderIn("CONFIRMED");
    // CancelOrder's state, with the CancelShipment call not due for an hour (no shipping runs here).
    await db().execute(
      sql`update order_sagas set step = 'CANCEL_SHIPMENT', compensation = 'CANCELLED', cancel_requested = true,
            next_attempt_at = now() + interval '1 hour' where order_id = ${orderId}`,
    );
    await shipping.publish(
      ShipmentDispatchedEvent,
      { shipment: shipment(orderId, ShipmentStatus.SHIPMENT_STATUS_DISPATCHED) },
      { aggregateId: `shp-${orderId.slice(0, 8)}` },
    );
    await waitUntil(
      async () => (await log(orderId)).some((entry) => entry.outcome === "shipment-dispatched-during-cancel"),
      10_000,
      "dispatch noted",
    );
    expect((await log(orderId)).at(-1)?.detail).toBe(
      `shipment shp-${orderId.slice(0, 8)} dispatched, tracking number AGP123456 while the cancellation asks shipping to stop it; the saga settles it`,
    );
    const { order } = await orders.getOrder({ orderId });
    expect(statusName(order?.status ?? 0)).toBe("CONFIRMED");
    expect(await shippedEvents(orderId)).toEqual([]);
  });

  it("leaves an order alone that is no longer CONFIRMED, and notes it for operators", async () => {
    const orderId = await orderIn("CANCELLED");
    await shipping.publish(
      ShipmentDispatchedEvent,
      { shipment: shipment(orderId, ShipmentStatus.SHIPMENT_STATUS_DISPATCHED) },
      { aggregateId: `shp-${orderId.slice(0, 8)}` },
    );
    await waitUntil(
      async () => (await log(orderId)).some((entry) => entry.outcome === "shipment-dispatched-ignored"),
      10_000,
      "dispatch noted",
    );
    const { order } = await orders.getOrder({ orderId });
    expect(statusName(order?.status ?? 0)).toBe("CANCELLED");
    expect((await log(orderId)).at(-1)?.detail).toBe(
      `shipment shp-${orderId.slice(0, 8)} dispatched, tracking number AGP123456 while the order is CANCELLED`,
    );
  });
});
