import { eventTypes } from "@agora/contracts";
import { noticesByType, shortId } from "../src/messages";
import { cancelled, rejectedAndStuck, type StoryEvent, shippedAndRefunded } from "./support/order-events";

const customerId = "c0ffee00-0000-4000-8000-000000000001";
const ada = { email: "ada@example.com", displayName: "Ada" };

function render(event: StoryEvent, recipient = ada) {
  const notice = noticesByType.get(event.eventType.type)?.notice(event.payload);
  return notice && { ...notice, ...notice.render(recipient) };
}

describe("notification messages", () => {
  const { order, events } = shippedAndRefunded(customerId);
  const short = shortId(order.orderId);
  const byType = (type: string) => events.find((event) => event.eventType.type === type) as StoryEvent;

  it("tells the customer an order was received, with items and total", () => {
    const message = render(byType("agora.order.placed"));
    expect(message?.customerId).toBe(customerId);
    expect(message?.orderId).toBe(order.orderId);
    expect(message?.subject).toBe(`We received your order ${short} — 3 items, 134.30 EUR`);
    expect(message?.body).toBe(
      [
        "Hello Ada,",
        `thank you for your order ${order.orderId}:`,
        "  2 × Pour-over kettle — 119.80 EUR\n  1 × Coffee beans, Ethiopia — 14.50 EUR",
        "We are reserving the items and authorizing your payment. You will hear from us as soon as it is confirmed.",
        "— Agora",
      ].join("\n\n"),
    );
  });

  it("confirms an order with items, total and where it ships", () => {
    const message = render(byType("agora.order.confirmed"));
    expect(message?.subject).toBe(`Your order ${short} is confirmed — 3 items, 134.30 EUR`);
    expect(message?.body).toContain("It ships to Ada Lovelace, London.");
  });

  it("announces the dispatch with carrier, tracking number and delivery estimate", () => {
    const message = render(byType("agora.shipping.shipment_dispatched"));
    expect(message?.subject).toBe(`Your order ${short} is on its way`);
    expect(message?.body).toContain(`your order ${order.orderId} left our warehouse with agora-post.`);
    expect(message?.body).toContain("Tracking number: AP123456DE");
    expect(message?.body).toContain("It should arrive within 2 working days.");
  });

  it("sends a receipt for the captured payment and a note for the refund", () => {
    expect(render(byType("agora.payment.captured"))?.subject).toBe(`Payment received for order ${short}: 134.30 EUR`);
    expect(render(byType("agora.payment.captured"))?.body).toContain(
      `we charged 134.30 EUR to your visa ending in 4242 for order ${order.orderId}`,
    );
    expect(render(byType("agora.payment.refunded"))?.subject).toBe(`Refund for order ${short}: 134.30 EUR`);
  });

  it("explains a rejection with its reason and a cancellation with the customer's reason", () => {
    const rejected = rejectedAndStuck(customerId).events.find(
      (event) => event.eventType.type === "agora.order.rejected",
    );
    const message = render(rejected as StoryEvent);
    expect(message?.subject).toMatch(/^Your order .{8}… could not be completed$/);
    expect(message?.body).toContain(
      "(3 items, 134.30 EUR) could not be completed (payment declined: insufficient funds).",
    );
    expect(message?.body).toContain("Nothing has been charged.");
    const cancellation = cancelled(customerId).events.find((event) => event.eventType.type === "agora.order.cancelled");
    expect(render(cancellation as StoryEvent)?.body).toContain("is cancelled (changed my mind).");
  });

  it("greets without a name when there is none", () => {
    expect(render(byType("agora.order.placed"), { email: "x@example.com", displayName: "" })?.body).toMatch(
      /^Hello,\n/,
    );
  });

  it("stays silent on events covered by another message or meant for operators", () => {
    const silent = [...eventTypes.keys()].filter(
      (type) => /^agora\.(order|payment|shipping)\./.test(type) && !noticesByType.has(type),
    );
    expect(silent.sort()).toEqual([
      "agora.order.needs_attention",
      "agora.order.shipped",
      "agora.payment.authorized",
      "agora.payment.declined",
      "agora.payment.voided",
      "agora.shipping.shipment_cancelled",
      "agora.shipping.shipment_created",
    ]);
    expect([...noticesByType.keys()].sort()).toEqual([
      "agora.order.cancelled",
      "agora.order.confirmed",
      "agora.order.placed",
      "agora.order.rejected",
      "agora.payment.captured",
      "agora.payment.refunded",
      "agora.shipping.shipment_dispatched",
    ]);
  });

  it("sends nothing for an event without a customer or order", () => {
    const placed = noticesByType.get("agora.order.placed");
    expect(placed?.notice({ order: undefined })).toBeUndefined();
    expect(placed?.notice({ order: { ...order, customerId: "" } })).toBeUndefined();
  });
});
