import { randomUUID } from "node:crypto";
import { applyEvent, applyEvents, emptyView, isVisible, toOrderView, type ViewState } from "../src/projection";
import { type NumberedStep, numbered, orderStory, type StoryKind, viewEventOf } from "./support/order-stories";

const customerId = "c0ffee00-0000-4000-8000-000000000001";
const placedAt = new Date("2026-11-20T10:00:00.000Z");

/** A deterministic shuffle (mulberry32), so a failing order can be reproduced. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  let state = seed;
  const random = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

function fold(orderId: string, steps: readonly NumberedStep[]): ViewState {
  return applyEvents(emptyView(orderId), steps.map(viewEventOf));
}

describe("order view projection", () => {
  it("builds the whole view of a shipped order from its events", () => {
    const story = orderStory("shipped", { customerId, placedAt, index: 1 });
    const view = toOrderView(fold(story.orderId, numbered(story.steps)));
    expect(view).toEqual({
      orderId: story.orderId,
      customerId,
      status: "SHIPPED",
      lines: story.order.lines,
      total: story.order.total,
      payment: {
        paymentId: story.payment?.paymentId,
        status: "CAPTURED",
        amount: story.order.total,
        capturedAmount: story.order.total,
      },
      shipment: {
        shipmentId: story.shipment?.shipmentId,
        status: "DISPATCHED",
        carrier: "agora-post",
        trackingNumber: "AP100001DE",
      },
      timeline: expect.any(Array),
      placeTime: placedAt,
      updateTime: story.steps.at(-1)?.occurredAt,
    });
    expect(view.timeline.map((entry) => entry.eventType)).toEqual([
      "agora.order.placed",
      "agora.payment.authorized",
      "agora.order.confirmed",
      "agora.shipping.shipment_created",
      "agora.shipping.shipment_dispatched",
      "agora.payment.captured",
      "agora.order.shipped",
    ]);
    expect(view.timeline.map((entry) => entry.description)).toEqual([
      "Order placed: 5 items, 301.50 EUR",
      "Payment of 301.50 EUR authorized on visa •••• 4242",
      "Order confirmed: stock reserved and payment authorized",
      "Shipment created with agora-post",
      "Shipment dispatched with agora-post, tracking number AP100001DE",
      "Payment of 301.50 EUR captured",
      "Order shipped",
    ]);
  });

  it.each<[StoryKind, string, string | undefined, string | undefined, string]>([
    ["out-of-stock", "REJECTED", undefined, undefined, "Order rejected: out of stock: AG-COF-003"],
    ["declined", "REJECTED", "DECLINED", undefined, "Order rejected: payment declined: insufficient funds"],
    ["cancelled", "CANCELLED", "VOIDED", "CANCELLED", "Shipment cancelled"],
    [
      "needs-attention",
      "NEEDS_ATTENTION",
      "AUTHORIZED",
      undefined,
      "Order needs attention: void of the payment kept failing",
    ],
    ["refunded", "SHIPPED", "REFUNDED", "DISPATCHED", "301.50 EUR refunded of 301.50 EUR captured"],
    ["confirmed", "CONFIRMED", "AUTHORIZED", "CREATED", "Shipment created with agora-post"],
  ])("follows a %s order to status %s (payment %s, shipment %s)", (kind, status, payment, shipment, last) => {
    const story = orderStory(kind, { customerId, placedAt, index: kind === "out-of-stock" ? 2 : 1 });
    const view = toOrderView(fold(story.orderId, numbered(story.steps)));
    expect(view.status).toBe(status);
    expect(view.payment?.status).toBe(payment);
    expect(view.shipment?.status).toBe(shipment);
    expect(view.timeline.at(-1)?.description).toBe(last);
    expect(view.timeline).toHaveLength(story.steps.length);
  });

  it("describes a declined payment with its reason", () => {
    const story = orderStory("declined", { customerId, placedAt, index: 3 });
    const view = toOrderView(fold(story.orderId, numbered(story.steps)));
    expect(view.timeline.map((entry) => entry.description)).toContain(
      "Payment of 164.80 EUR declined: insufficient funds",
    );
  });

  it("ends in the same view whatever order the events arrive in, and however often", () => {
    for (const [index, kind] of (["shipped", "cancelled", "refunded", "declined"] as const).entries()) {
      const story = orderStory(kind, { customerId, placedAt, index });
      const steps = numbered(story.steps);
      const expected = fold(story.orderId, steps);
      for (let seed = 1; seed <= 40; seed++) {
        const redelivered = [...steps, ...shuffled(steps, seed * 7).slice(0, 1 + (seed % steps.length))];
        expect(fold(story.orderId, shuffled(redelivered, seed))).toEqual(expected);
      }
    }
  });

  it("keeps a shipment dispatched before the order is known, and shows the view once the order arrives", () => {
    const story = orderStory("shipped", { customerId, placedAt, index: 0 });
    const steps = numbered(story.steps);
    const dispatched = steps.find((step) => step.eventType.type === "agora.shipping.shipment_dispatched");
    if (!dispatched) throw new Error("no dispatch in the story");
    const early = applyEvent(emptyView(story.orderId), viewEventOf(dispatched));
    expect(isVisible(early)).toBe(false);
    expect(early.shipment?.status).toBe("DISPATCHED");
    expect(toOrderView(early).customerId).toBe(customerId);
    const placed = steps[0] as NumberedStep;
    const later = applyEvent(early, viewEventOf(placed));
    expect(isVisible(later)).toBe(true);
    expect(toOrderView(later)).toMatchObject({ status: "PENDING", shipment: { status: "DISPATCHED" } });
    expect(toOrderView(later).timeline.map((entry) => entry.eventType)).toEqual([
      "agora.order.placed",
      "agora.shipping.shipment_dispatched",
    ]);
  });

  it("takes the status from the highest order version: confirmed before placed still ends CONFIRMED", () => {
    const story = orderStory("confirmed", { customerId, placedAt, index: 0 });
    const steps = numbered(story.steps).filter((step) => step.aggregateId === story.orderId);
    const [placed, confirmed] = steps as [NumberedStep, NumberedStep];
    const view = fold(story.orderId, [confirmed, placed]);
    expect(view.order?.status).toBe("CONFIRMED");
    expect(view.order?.version).toBe(2);
    expect(view.timeline.map((entry) => entry.eventType)).toEqual(["agora.order.placed", "agora.order.confirmed"]);
  });

  it("returns the very same view for an event it applied before", () => {
    const story = orderStory("shipped", { customerId, placedAt, index: 0 });
    const [first] = numbered(story.steps).map(viewEventOf);
    if (!first) throw new Error("no events");
    const once = applyEvent(emptyView(story.orderId), first);
    expect(applyEvent(once, first)).toBe(once);
  });

  it("orders timeline entries of the same instant by event id, and refuses events of another order", () => {
    const story = orderStory("confirmed", { customerId, placedAt, index: 0 });
    const steps = numbered(story.steps).map((step) => ({ ...step, occurredAt: placedAt }));
    const view = fold(story.orderId, steps);
    const ids = view.timeline.map((entry) => entry.eventId);
    expect(ids).toEqual([...ids].sort());
    const [step] = steps;
    if (!step) throw new Error("no events");
    expect(() => applyEvent(emptyView(randomUUID()), viewEventOf(step))).toThrow(/another order/);
  });
});
