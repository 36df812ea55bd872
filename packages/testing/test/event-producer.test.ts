import { OrderCancelledEvent, OrderConfirmedEvent } from "@agora/contracts";
import { OrderStatus } from "@agora/contracts/agora/order/v1/order";
import { EventProbe, startTestNats, TestEventProducer, type TestNats } from "../src";

describe("TestEventProducer", () => {
  let nats: TestNats;
  let producer: TestEventProducer;
  let probe: EventProbe;

  beforeAll(async () => {
    nats = await startTestNats();
    producer = await TestEventProducer.start({
      nats,
      producer: "order",
      publishes: [OrderConfirmedEvent, OrderCancelledEvent],
    });
    probe = await EventProbe.connect(nats.url, nats.subjectPrefix);
  });

  afterAll(async () => {
    await probe.close();
    await producer.close();
    await nats.close();
  });

  const order = (orderId: string) => ({
    orderId,
    customerId: "c-1",
    status: OrderStatus.ORDER_STATUS_CANCELLED,
    lines: [],
    paymentMethodSummary: "",
    paymentId: "",
    statusReason: "",
    history: [],
  });

  it("publishes through a real outbox with the kit's envelope, versions and producer", async () => {
    const first = await producer.publish(OrderConfirmedEvent, { order: order("o-1") }, { aggregateId: "o-1" });
    const second = await producer.publish(
      OrderCancelledEvent,
      { order: order("o-1"), reason: "changed my mind" },
      { aggregateId: "o-1" },
    );
    expect(second.aggregateVersion).toBe(first.aggregateVersion + 1);
    const events = await probe.all("order");
    expect(events.map((probed) => [probed.event.type, probed.event.id, probed.event.producer])).toEqual([
      ["agora.order.confirmed", first.eventId, "order"],
      ["agora.order.cancelled", second.eventId, "order"],
    ]);
    expect(events[1]?.payload).toMatchObject({ reason: "changed my mind", order: { orderId: "o-1" } });
  });

  it("redelivers a published event byte for byte under a new message id", async () => {
    const recorded = await producer.publish(OrderConfirmedEvent, { order: order("o-2") }, { aggregateId: "o-2" });
    await producer.redeliver(recorded.eventId);
    const copies = (await probe.ofType(OrderConfirmedEvent)).filter((probed) => probed.event.id === recorded.eventId);
    expect(copies).toHaveLength(2);
    expect(copies[1]?.payload).toEqual(copies[0]?.payload);
    expect(copies[1]?.event.aggregateVersion).toBe(recorded.aggregateVersion);
  });
});
