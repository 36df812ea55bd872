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
import { type Order, orderStatusToJSON } from "@agora/contracts/agora/order/v1/order";
import { DeclineReason, type Payment, paymentStatusToJSON } from "@agora/contracts/agora/payment/v1/payment";
import { type Shipment, shipmentStatusToJSON } from "@agora/contracts/agora/shipping/v1/shipment";
import { money } from "@agora/service-kit";
import type { ViewEvent } from "./projection";

/** What the projection needs from an event's envelope. */
export interface EventMeta {
  readonly id: string;
  readonly type: string;
  readonly occurredAt: Date;
  readonly aggregateVersion: number;
}

/** An event type the view follows, with its conversion into a {@link ViewEvent}. */
export interface ProjectedEvent {
  readonly eventType: EventType<unknown>;
  /** The view event, or undefined when the payload lacks what the view needs (never applied). */
  toViewEvent(payload: unknown, meta: EventMeta): ViewEvent | undefined;
}

function projected<T>(
  eventType: EventType<T>,
  toViewEvent: (payload: T, meta: EventMeta) => ViewEvent | undefined,
): ProjectedEvent {
  return { eventType: eventType as EventType<unknown>, toViewEvent: toViewEvent as ProjectedEvent["toViewEvent"] };
}

/** "CONFIRMED" from ORDER_STATUS_CONFIRMED (and likewise for payments and shipments). */
function statusName(json: string, prefix: string): string {
  return json.startsWith(prefix) ? json.slice(prefix.length) : json;
}

/** "59.90 EUR", or "" when there is no amount. */
export function formatMoney(value: Money | undefined): string {
  return value ? money.formatAmount(money.amountOf(value)) : "";
}

function moneyOrNull(value: Money | undefined): Money | null {
  return value ? { currencyCode: value.currencyCode, units: value.units, nanos: value.nanos } : null;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** Number of units over all lines. */
export function itemCount(order: Order): number {
  return order.lines.reduce((sum, line) => sum + line.quantity, 0);
}

function orderEvent(
  order: Order | undefined,
  meta: EventMeta,
  describe: (order: Order) => string,
): ViewEvent | undefined {
  if (!order?.orderId) return undefined;
  return {
    eventId: meta.id,
    eventType: meta.type,
    occurredAt: meta.occurredAt,
    orderId: order.orderId,
    description: describe(order),
    section: {
      aggregate: "order",
      data: {
        version: meta.aggregateVersion,
        customerId: order.customerId,
        status: statusName(orderStatusToJSON(order.status), "ORDER_STATUS_"),
        lines: order.lines.map((line) => ({
          productId: line.productId,
          sku: line.sku,
          name: line.name,
          quantity: line.quantity,
          unitPrice: moneyOrNull(line.unitPrice),
          lineTotal: moneyOrNull(line.lineTotal),
        })),
        total: moneyOrNull(order.total),
        placeTime: (order.createTime ?? meta.occurredAt).toISOString(),
      },
    },
  };
}

function paymentEvent(
  payment: Payment | undefined,
  meta: EventMeta,
  describe: (payment: Payment) => string,
): ViewEvent | undefined {
  if (!payment?.orderId || !payment.paymentId) return undefined;
  return {
    eventId: meta.id,
    eventType: meta.type,
    occurredAt: meta.occurredAt,
    orderId: payment.orderId,
    description: describe(payment),
    section: {
      aggregate: "payment",
      data: {
        version: meta.aggregateVersion,
        customerId: payment.customerId,
        paymentId: payment.paymentId,
        status: statusName(paymentStatusToJSON(payment.status), "PAYMENT_STATUS_"),
        amount: moneyOrNull(payment.amount),
        capturedAmount: moneyOrNull(payment.capturedAmount),
      },
    },
  };
}

function shipmentEvent(
  shipment: Shipment | undefined,
  meta: EventMeta,
  describe: (shipment: Shipment) => string,
): ViewEvent | undefined {
  if (!shipment?.orderId || !shipment.shipmentId) return undefined;
  return {
    eventId: meta.id,
    eventType: meta.type,
    occurredAt: meta.occurredAt,
    orderId: shipment.orderId,
    description: describe(shipment),
    section: {
      aggregate: "shipment",
      data: {
        version: meta.aggregateVersion,
        customerId: shipment.customerId,
        shipmentId: shipment.shipmentId,
        status: statusName(shipmentStatusToJSON(shipment.status), "SHIPMENT_STATUS_"),
        carrier: shipment.quote?.carrier ?? "",
        trackingNumber: shipment.trackingNumber,
      },
    },
  };
}

const declineReasons: Record<number, string> = {
  [DeclineReason.DECLINE_REASON_GENERIC]: "declined by the card issuer",
  [DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS]: "insufficient funds",
  [DeclineReason.DECLINE_REASON_EXPIRED_CARD]: "the card has expired",
};

/** Words for why a payment was declined. */
export function declineReasonText(reason: DeclineReason): string {
  return declineReasons[reason] ?? "declined by the card issuer";
}

function withReason(text: string, reason: string): string {
  return reason ? `${text}: ${reason}` : text;
}

function cardOf(payment: Payment): string {
  const method = payment.paymentMethod;
  return method?.last4 ? ` on ${method.brand || "card"} •••• ${method.last4}` : "";
}

/** The order events the view follows (stream AGORA_ORDER). */
export const orderEvents: readonly ProjectedEvent[] = [
  projected(OrderPlacedEvent, ({ order }, meta) =>
    orderEvent(order, meta, (o) =>
      [`Order placed: ${plural(itemCount(o), "item")}`, formatMoney(o.total)].filter(Boolean).join(", "),
    ),
  ),
  projected(OrderConfirmedEvent, ({ order }, meta) =>
    orderEvent(order, meta, () => "Order confirmed: stock reserved and payment authorized"),
  ),
  projected(OrderRejectedEvent, ({ order, reason }, meta) =>
    orderEvent(order, meta, (o) => withReason("Order rejected", reason || o.statusReason)),
  ),
  projected(OrderCancelledEvent, ({ order, reason }, meta) =>
    orderEvent(order, meta, (o) => withReason("Order cancelled", reason || o.statusReason)),
  ),
  projected(OrderNeedsAttentionEvent, ({ order, reason }, meta) =>
    orderEvent(order, meta, (o) => withReason("Order needs attention", reason || o.statusReason)),
  ),
  projected(OrderShippedEvent, ({ order }, meta) => orderEvent(order, meta, () => "Order shipped")),
];

/** The payment events the view follows (stream AGORA_PAYMENT). */
export const paymentEvents: readonly ProjectedEvent[] = [
  projected(PaymentAuthorizedEvent, ({ payment }, meta) =>
    paymentEvent(payment, meta, (p) => `Payment of ${formatMoney(p.amount)} authorized${cardOf(p)}`),
  ),
  projected(PaymentDeclinedEvent, ({ payment }, meta) =>
    paymentEvent(
      payment,
      meta,
      (p) => `Payment of ${formatMoney(p.amount)} declined: ${declineReasonText(p.declineReason)}`,
    ),
  ),
  projected(PaymentCapturedEvent, ({ payment }, meta) =>
    paymentEvent(payment, meta, (p) => `Payment of ${formatMoney(p.capturedAmount ?? p.amount)} captured`),
  ),
  projected(PaymentVoidedEvent, ({ payment }, meta) =>
    paymentEvent(payment, meta, (p) => `Payment authorization of ${formatMoney(p.amount)} voided`),
  ),
  projected(PaymentRefundedEvent, ({ payment }, meta) =>
    paymentEvent(
      payment,
      meta,
      (p) => `${formatMoney(p.refundedAmount)} refunded of ${formatMoney(p.capturedAmount ?? p.amount)} captured`,
    ),
  ),
];

/** The shipping events the view follows (stream AGORA_SHIPPING). */
export const shippingEvents: readonly ProjectedEvent[] = [
  projected(ShipmentCreatedEvent, ({ shipment }, meta) =>
    shipmentEvent(shipment, meta, (s) => `Shipment created${s.quote?.carrier ? ` with ${s.quote.carrier}` : ""}`),
  ),
  projected(ShipmentDispatchedEvent, ({ shipment }, meta) =>
    shipmentEvent(
      shipment,
      meta,
      (s) =>
        `Shipment dispatched${s.quote?.carrier ? ` with ${s.quote.carrier}` : ""}` +
        (s.trackingNumber ? `, tracking number ${s.trackingNumber}` : ""),
    ),
  ),
  projected(ShipmentCancelledEvent, ({ shipment }, meta) => shipmentEvent(shipment, meta, () => "Shipment cancelled")),
];

/** Every followed event type by its type name ("agora.order.placed" → …). */
export const projectedEventsByType: ReadonlyMap<string, ProjectedEvent> = new Map(
  [...orderEvents, ...paymentEvents, ...shippingEvents].map((projection) => [projection.eventType.type, projection]),
);

/** The contexts (streams) the view is built from. */
export const sourceContexts = ["order", "payment", "shipping"] as const;
