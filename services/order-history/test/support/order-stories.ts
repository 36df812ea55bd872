import { randomUUID } from "node:crypto";
import {
  type EventType,
  OrderCancelledEvent,
  OrderConfirmedEvent,
  OrderNeedsAttentionEvent,
  OrderPlacedEvent,
  OrderRejectedEvent,
  OrderShippedEvent,
  PaymentAuthorizedEvent,
  PaymentCapturedEvent,
  PaymentDeclinedEvent,
  PaymentRefundedEvent,
  PaymentVoidedEvent,
  ShipmentCancelledEvent,
  ShipmentCreatedEvent,
  ShipmentDispatchedEvent,
} from "@agora/contracts";
import type { Money } from "@agora/contracts/agora/common/v1/money";
import { type Order, OrderStatus } from "@agora/contracts/agora/order/v1/order";
import { DeclineReason, type Payment, PaymentStatus } from "@agora/contracts/agora/payment/v1/payment";
import { type Shipment, ShipmentStatus } from "@agora/contracts/agora/shipping/v1/shipment";
import type { ViewEvent } from "../../src/projection";
import { projectedEventsByType } from "../../src/view-events";

/**
 * Order lifecycles as the real services publish them: every order event carries the whole order
 * (status, lines, history), payment and shipping events the whole payment and shipment, each
 * about its own aggregate (order id, payment id, shipment id), in the causal order of the saga.
 */

/** One event of a story, before it gets an id and a version from an outbox. */
export interface StoryStep {
  readonly eventType: EventType<unknown>;
  readonly payload: unknown;
  readonly aggregateId: string;
  readonly occurredAt: Date;
}

/** How an order's life goes. */
export type StoryKind =
  | "shipped"
  | "refunded"
  | "confirmed"
  | "out-of-stock"
  | "declined"
  | "cancelled"
  | "needs-attention";

/** An order's events and its final state on each side (what the services would answer). */
export interface OrderStory {
  readonly kind: StoryKind;
  readonly orderId: string;
  readonly customerId: string;
  readonly steps: StoryStep[];
  readonly order: Order;
  readonly payment?: Payment;
  readonly shipment?: Shipment;
}

const eur = (cents: number): Money => ({
  currencyCode: "EUR",
  units: Math.floor(cents / 100),
  nanos: (cents % 100) * 10_000_000,
});

const catalog = [
  { productId: "pour-over-kettle", sku: "AG-KIT-001", name: "Pour-over kettle", cents: 5990 },
  { productId: "burr-grinder", sku: "AG-KIT-002", name: "Burr grinder", cents: 12900 },
  { productId: "coffee-beans-ethiopia", sku: "AG-COF-003", name: "Coffee beans, Ethiopia", cents: 1450 },
  { productId: "cast-iron-pan", sku: "AG-KIT-004", name: "Cast iron pan", cents: 4500 },
];

const statusOf = {
  PENDING: OrderStatus.ORDER_STATUS_PENDING,
  CONFIRMED: OrderStatus.ORDER_STATUS_CONFIRMED,
  SHIPPED: OrderStatus.ORDER_STATUS_SHIPPED,
  REJECTED: OrderStatus.ORDER_STATUS_REJECTED,
  CANCELLED: OrderStatus.ORDER_STATUS_CANCELLED,
  NEEDS_ATTENTION: OrderStatus.ORDER_STATUS_NEEDS_ATTENTION,
} as const;

/** Builds the events of one order's life, `index` varying lines and amounts. */
export function orderStory(
  kind: StoryKind,
  options: { customerId: string; placedAt: Date; index: number; orderId?: string },
): OrderStory {
  const orderId = options.orderId ?? randomUUID();
  const { customerId, index } = options;
  const chosen = [catalog[index % catalog.length], catalog[(index + 1) % catalog.length]].slice(0, 1 + (index % 2));
  const lines = chosen.map((product, position) => {
    const item = product ?? catalog[0];
    const quantity = 1 + ((index + position) % 3);
    if (!item) throw new Error("empty catalog");
    return {
      productId: item.productId,
      sku: item.sku,
      name: item.name,
      quantity,
      unitPrice: eur(item.cents),
      lineTotal: eur(item.cents * quantity),
    };
  });
  const totalCents = chosen.reduce(
    (sum, product, position) => sum + (product?.cents ?? 0) * (1 + ((index + position) % 3)),
    0,
  );
  const total = eur(totalCents);
  let clock = options.placedAt.getTime();
  const tick = () => {
    clock += 1000 + (index % 7) * 13;
    return new Date(clock);
  };
  const steps: StoryStep[] = [];

  const placedAt = options.placedAt;
  let order: Order = {
    orderId,
    customerId,
    status: statusOf.PENDING,
    lines,
    total,
    shippingAddress: {
      recipientName: "Ada Lovelace",
      addressLines: ["12 St James's Square"],
      city: "London",
      postalCode: "SW1Y 4JH",
      countryCode: "GB",
      region: "",
    },
    paymentMethodSummary: "visa •••• 4242",
    paymentId: "",
    statusReason: "",
    history: [{ status: statusOf.PENDING, reason: "", changeTime: placedAt }],
    createTime: placedAt,
    updateTime: placedAt,
  };
  const orderStep = (eventType: EventType<unknown>, status: keyof typeof statusOf, reason = "") => {
    const at = steps.length === 0 ? placedAt : tick();
    order = {
      ...order,
      status: statusOf[status],
      statusReason: reason,
      history:
        steps.length === 0 ? order.history : [...order.history, { status: statusOf[status], reason, changeTime: at }],
      updateTime: at,
    };
    const payload = reason && eventType !== OrderPlacedEvent ? { order, reason } : { order };
    steps.push({ eventType, payload, aggregateId: orderId, occurredAt: at });
  };

  const paymentId = `pay_${orderId.slice(0, 8)}`;
  let payment: Payment | undefined;
  const paymentStep = (eventType: EventType<unknown>, changes: Partial<Payment>) => {
    const at = tick();
    payment = {
      paymentId,
      orderId,
      customerId,
      status: PaymentStatus.PAYMENT_STATUS_AUTHORIZED,
      amount: total,
      capturedAmount: eur(0),
      refundedAmount: eur(0),
      paymentMethod: { paymentMethodId: `pm_${index}`, brand: "visa", last4: "4242", expMonth: 12, expYear: 2030 },
      declineReason: DeclineReason.DECLINE_REASON_UNSPECIFIED,
      ledger: [],
      createTime: payment?.createTime ?? at,
      ...payment,
      ...changes,
      updateTime: at,
    };
    steps.push({ eventType, payload: { payment }, aggregateId: paymentId, occurredAt: at });
  };

  const shipmentId = `shp_${orderId.slice(0, 8)}`;
  let shipment: Shipment | undefined;
  const shipmentStep = (eventType: EventType<unknown>, changes: Partial<Shipment>) => {
    const at = tick();
    shipment = {
      shipmentId,
      orderId,
      customerId,
      status: ShipmentStatus.SHIPMENT_STATUS_CREATED,
      address: order.shippingAddress,
      items: lines.map((line) => ({ sku: line.sku, quantity: line.quantity })),
      quote: { cost: eur(490), carrier: "agora-post", estimatedDays: 2 },
      trackingNumber: "",
      createTime: shipment?.createTime ?? at,
      dispatchTime: undefined,
      ...shipment,
      ...changes,
    };
    steps.push({ eventType, payload: { shipment }, aggregateId: shipmentId, occurredAt: at });
  };

  orderStep(OrderPlacedEvent, "PENDING");
  if (kind === "out-of-stock") {
    orderStep(OrderRejectedEvent, "REJECTED", `out of stock: ${lines[0]?.sku}`);
    return { kind, orderId, customerId, steps, order };
  }
  if (kind === "declined") {
    paymentStep(PaymentDeclinedEvent, {
      status: PaymentStatus.PAYMENT_STATUS_DECLINED,
      declineReason: DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS,
    });
    orderStep(OrderRejectedEvent, "REJECTED", "payment declined: insufficient funds");
    return { kind, orderId, customerId, steps, order, payment };
  }
  paymentStep(PaymentAuthorizedEvent, { status: PaymentStatus.PAYMENT_STATUS_AUTHORIZED });
  order = { ...order, paymentId };
  orderStep(OrderConfirmedEvent, "CONFIRMED");
  if (kind === "needs-attention") {
    orderStep(OrderNeedsAttentionEvent, "NEEDS_ATTENTION", "void of the payment kept failing");
    return { kind, orderId, customerId, steps, order, payment };
  }
  shipmentStep(ShipmentCreatedEvent, { status: ShipmentStatus.SHIPMENT_STATUS_CREATED });
  if (kind === "confirmed") return { kind, orderId, customerId, steps, order, payment, shipment };
  if (kind === "cancelled") {
    orderStep(OrderCancelledEvent, "CANCELLED", "changed my mind");
    paymentStep(PaymentVoidedEvent, { status: PaymentStatus.PAYMENT_STATUS_VOIDED });
    shipmentStep(ShipmentCancelledEvent, { status: ShipmentStatus.SHIPMENT_STATUS_CANCELLED });
    return { kind, orderId, customerId, steps, order, payment, shipment };
  }
  const dispatchedAt = tick();
  shipmentStep(ShipmentDispatchedEvent, {
    status: ShipmentStatus.SHIPMENT_STATUS_DISPATCHED,
    trackingNumber: `AP${String(100000 + index)}DE`,
    dispatchTime: dispatchedAt,
  });
  paymentStep(PaymentCapturedEvent, { status: PaymentStatus.PAYMENT_STATUS_CAPTURED, capturedAmount: total });
  orderStep(OrderShippedEvent, "SHIPPED");
  if (kind === "refunded") {
    paymentStep(PaymentRefundedEvent, { status: PaymentStatus.PAYMENT_STATUS_REFUNDED, refundedAmount: total });
  }
  return { kind, orderId, customerId, steps, order, payment, shipment };
}

/** An event of a story with the id and version an outbox would give it. */
export interface NumberedStep extends StoryStep {
  readonly eventId: string;
  readonly aggregateVersion: number;
}

/** Numbers a story's steps as the producers' outboxes would: a new id each, versions per aggregate. */
export function numbered(steps: readonly StoryStep[]): NumberedStep[] {
  const versions = new Map<string, number>();
  return steps.map((step) => {
    const version = (versions.get(step.aggregateId) ?? 0) + 1;
    versions.set(step.aggregateId, version);
    return { ...step, eventId: randomUUID(), aggregateVersion: version };
  });
}

/** The view event of a numbered step, through the service's own conversion. */
export function viewEventOf(step: NumberedStep): ViewEvent {
  const projection = projectedEventsByType.get(step.eventType.type);
  const event = projection?.toViewEvent(step.payload, {
    id: step.eventId,
    type: step.eventType.type,
    occurredAt: step.occurredAt,
    aggregateVersion: step.aggregateVersion,
  });
  if (!event) throw new Error(`${step.eventType.type} is not projected`);
  return event;
}

/** The status name without prefix, e.g. "SHIPPED". */
export function statusName(status: number, prefix: string, names: Record<string, unknown>): string {
  const name = Object.entries(names).find(([, value]) => value === status)?.[0] ?? "";
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}
