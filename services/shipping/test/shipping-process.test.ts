import { join } from "node:path";
import { OrderConfirmedEvent, ShipmentCreatedEvent, ShipmentDispatchedEvent } from "@agora/contracts";
import { ShipmentStatus } from "@agora/contracts/agora/shipping/v1/shipment";
import { ShippingServiceService } from "@agora/contracts/agora/shipping/v1/shipping_service";
import { createClient, type PromiseClient } from "@agora/service-kit";
import {
  createTestDatabase,
  EventProbe,
  type ServiceProcess,
  spawnServiceProcess,
  startTestNats,
  type TestDatabase,
  TestEventProducer,
  type TestNats,
} from "@agora/testing";
import pino from "pino";
import { confirmedOrder } from "./orders";

describe("shipping as a process killed between creating and dispatching a shipment", () => {
  let nats: TestNats;
  let database: TestDatabase;
  let orders: TestEventProducer;
  let events: EventProbe;
  const processes: ServiceProcess[] = [];
  const clients: PromiseClient<typeof ShippingServiceService>[] = [];
  let env: Record<string, string>;

  beforeAll(async () => {
    nats = await startTestNats();
    database = await createTestDatabase("shipping_process");
    orders = await TestEventProducer.start({ nats, producer: "order", publishes: [OrderConfirmedEvent] });
    events = await EventProbe.connect(nats.url, nats.subjectPrefix);
    env = {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      NATS_SUBJECT_PREFIX: nats.subjectPrefix,
      OUTBOX_POLL_INTERVAL_MS: "100",
      DISPATCH_DELAY_MS: "2500",
      DISPATCH_SWEEP_INTERVAL_MS: "100",
    };
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    for (const started of processes) await started.stop();
    await events.close();
    await orders.close();
    await database.drop();
    await nats.close();
  });

  async function spawnShipping() {
    const started = await spawnServiceProcess(join(__dirname, "../dist/main.js"), env);
    processes.push(started);
    const client = createClient(ShippingServiceService, started.address, {
      downstream: "shipping",
      logger: pino({ level: "silent" }),
      policies: { maxAttempts: 1, breaker: false },
    });
    clients.push(client);
    return { started, client };
  }

  it("still dispatches the shipment, once, after a SIGKILL and a restart", async () => {
    const first = await spawnShipping();
    const order = confirmedOrder();
    await orders.publish(OrderConfirmedEvent, { order }, { aggregateId: order.orderId });
    await events.waitFor(ShipmentCreatedEvent, (all) => all.some((e) => e.payload.shipment?.orderId === order.orderId));
    const { shipment: created } = await first.client.getShipment({ shipmentId: "", orderId: order.orderId });
    expect(created?.status).toBe(ShipmentStatus.SHIPMENT_STATUS_CREATED);

    first.started.kill("SIGKILL");
    await first.started.exited;

    const second = await spawnShipping();
    const dispatched = await events.waitFor(
      ShipmentDispatchedEvent,
      (all) => all.some((e) => e.payload.shipment?.orderId === order.orderId),
      15_000,
    );
    const { shipment } = await second.client.getShipment({ shipmentId: "", orderId: order.orderId });
    expect(shipment).toMatchObject({
      shipmentId: created?.shipmentId,
      status: ShipmentStatus.SHIPMENT_STATUS_DISPATCHED,
      trackingNumber: expect.stringMatching(/^AG\d{9}DE$/),
    });
    expect((shipment?.dispatchTime?.getTime() ?? 0) - (created?.createTime?.getTime() ?? 0)).toBeGreaterThanOrEqual(
      2500,
    );
    expect(dispatched.filter((e) => e.payload.shipment?.orderId === order.orderId)).toHaveLength(1);
    expect(
      (await events.ofType(ShipmentCreatedEvent)).filter((e) => e.payload.shipment?.orderId === order.orderId),
    ).toHaveLength(1);
  }, 40_000);
});
