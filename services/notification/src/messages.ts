import {
  type EventType,
  OrderCancelledEvent,
  OrderConfirmedEvent,
  OrderPlacedEvent,
  OrderRejectedEvent,
  PaymentCapturedEvent,
  PaymentRefundedEvent,
  ShipmentDispatchedEvent,
} from "@agora/contracts";
import type { Money } from "@agora/contracts/agora/common/v1/money";
import type { Order } from "@agora/contracts/agora/order/v1/order";
import type { Payment } from "@agora/contracts/agora/payment/v1/payment";
import type { Shipment } from "@agora/contracts/agora/shipping/v1/shipment";
import { money } from "@agora/service-kit";

/**
 * What customers are told, per event type. Only events a customer cares about get a message; the
 * others are covered by one that does (a declined payment by the order's rejection, a voided one by
 * the cancellation, order.shipped by the dispatch message with its tracking number) or are for
 * operators (order.needs_attention).
 */

/** Who a message goes to. */
export interface Recipient {
  readonly email: string;
  /** Name to greet; "" when unknown. */
  readonly displayName: string;
}

/** A rendered message. */
export interface Rendered {
  readonly subject: string;
  readonly body: string;
}

/** A message to be sent about one event: whom it concerns, and how it reads for a recipient. */
export interface Notice {
  readonly customerId: string;
  /** The order it concerns. */
  readonly orderId: string;
  render(recipient: Recipient): Rendered;
}

/** An event type customers hear about, and its message. */
export interface NotifiedEvent {
  readonly eventType: EventType<unknown>;
  /** The notice, or undefined when the payload lacks the customer or order (never sent). */
  notice(payload: unknown): Notice | undefined;
}

function notified<T>(eventType: EventType<T>, notice: (payload: T) => Notice | undefined): NotifiedEvent {
  return { eventType: eventType as EventType<unknown>, notice: notice as NotifiedEvent["notice"] };
}

/** "59.90 EUR" ("" when there is no amount). */
export function formatMoney(value: Money | undefined): string {
  return value ? money.formatAmount(money.amountOf(value)) : "";
}

/** The first eight characters of an order id with an ellipsis: "3f9a1c2e…". */
export function shortId(orderId: string): string {
  return orderId.length > 8 ? `${orderId.slice(0, 8)}…` : orderId;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function summary(order: Order): string {
  const items = plural(
    order.lines.reduce((sum, line) => sum + line.quantity, 0),
    "item",
  );
  return [items, formatMoney(order.total)].filter(Boolean).join(", ");
}

function lineList(order: Order): string {
  return order.lines.map((line) => `  ${line.quantity} × ${line.name} — ${formatMoney(line.lineTotal)}`).join("\n");
}

function greeting(recipient: Recipient): string {
  return recipient.displayName ? `Hello ${recipient.displayName},` : "Hello,";
}

function letter(recipient: Recipient, ...paragraphs: string[]): string {
  return [greeting(recipient), ...paragraphs.filter(Boolean), "— Agora"].join("\n\n");
}

function aboutOrder(order: Order | undefined, render: (order: Order, recipient: Recipient) => Rendered) {
  if (!order?.orderId || !order.customerId) return undefined;
  return {
    customerId: order.customerId,
    orderId: order.orderId,
    render: (recipient: Recipient) => render(order, recipient),
  };
}

function aboutPayment(payment: Payment | undefined, render: (payment: Payment, recipient: Recipient) => Rendered) {
  if (!payment?.orderId || !payment.customerId) return undefined;
  return {
    customerId: payment.customerId,
    orderId: payment.orderId,
    render: (recipient: Recipient) => render(payment, recipient),
  };
}

function aboutShipment(shipment: Shipment | undefined, render: (shipment: Shipment, recipient: Recipient) => Rendered) {
  if (!shipment?.orderId || !shipment.customerId) return undefined;
  return {
    customerId: shipment.customerId,
    orderId: shipment.orderId,
    render: (recipient: Recipient) => render(shipment, recipient),
  };
}

function card(payment: Payment): string {
  const method = payment.paymentMethod;
  return method?.last4 ? ` to your ${method.brand || "card"} ending in ${method.last4}` : "";
}

/** Order events with a message (stream AGORA_ORDER). */
export const orderNotices: readonly NotifiedEvent[] = [
  notified(OrderPlacedEvent, ({ order }) =>
    aboutOrder(order, (o, to) => ({
      subject: `We received your order ${shortId(o.orderId)} — ${summary(o)}`,
      body: letter(
        to,
        `thank you for your order ${o.orderId}:`,
        lineList(o),
        "We are reserving the items and authorizing your payment. You will hear from us as soon as it is confirmed.",
      ),
    })),
  ),
  notified(OrderConfirmedEvent, ({ order }) =>
    aboutOrder(order, (o, to) => ({
      subject: `Your order ${shortId(o.orderId)} is confirmed — ${summary(o)}`,
      body: letter(
        to,
        `good news: your order ${o.orderId} is confirmed. The items are set aside for you and your payment is authorized.`,
        lineList(o),
        o.shippingAddress
          ? `It ships to ${o.shippingAddress.recipientName}, ${o.shippingAddress.city}. We will tell you when it leaves our warehouse.`
          : "",
      ),
    })),
  ),
  notified(OrderRejectedEvent, ({ order, reason }) =>
    aboutOrder(order, (o, to) => ({
      subject: `Your order ${shortId(o.orderId)} could not be completed`,
      body: letter(
        to,
        `we are sorry: your order ${o.orderId} (${summary(o)}) could not be completed (${reason || o.statusReason || "no reason given"}).`,
        "Nothing has been charged.",
      ),
    })),
  ),
  notified(OrderCancelledEvent, ({ order, reason }) =>
    aboutOrder(order, (o, to) => ({
      subject: `Your order ${shortId(o.orderId)} is cancelled`,
      body: letter(
        to,
        `your order ${o.orderId} (${summary(o)}) is cancelled${reason ? ` (${reason})` : ""}.`,
        "The hold on your card is released; nothing has been charged.",
      ),
    })),
  ),
];

/** Payment events with a message (stream AGORA_PAYMENT). */
export const paymentNotices: readonly NotifiedEvent[] = [
  notified(PaymentCapturedEvent, ({ payment }) =>
    aboutPayment(payment, (p, to) => ({
      subject: `Payment received for order ${shortId(p.orderId)}: ${formatMoney(p.capturedAmount ?? p.amount)}`,
      body: letter(
        to,
        `we charged ${formatMoney(p.capturedAmount ?? p.amount)}${card(p)} for order ${p.orderId}, which is on its way.`,
        `Payment reference: ${p.paymentId}`,
      ),
    })),
  ),
  notified(PaymentRefundedEvent, ({ payment }) =>
    aboutPayment(payment, (p, to) => ({
      subject: `Refund for order ${shortId(p.orderId)}: ${formatMoney(p.refundedAmount)}`,
      body: letter(
        to,
        `we refunded ${formatMoney(p.refundedAmount)}${card(p)} for order ${p.orderId}. Depending on your bank it shows up within a few days.`,
        `Payment reference: ${p.paymentId}`,
      ),
    })),
  ),
];

/** Shipping events with a message (stream AGORA_SHIPPING). */
export const shippingNotices: readonly NotifiedEvent[] = [
  notified(ShipmentDispatchedEvent, ({ shipment }) =>
    aboutShipment(shipment, (s, to) => {
      const carrier = s.quote?.carrier ? ` with ${s.quote.carrier}` : "";
      const days = s.quote?.estimatedDays
        ? `It should arrive within ${plural(s.quote.estimatedDays, "working day")}.`
        : "";
      return {
        subject: `Your order ${shortId(s.orderId)} is on its way`,
        body: letter(
          to,
          `your order ${s.orderId} left our warehouse${carrier}.`,
          s.trackingNumber ? `Tracking number: ${s.trackingNumber}` : "",
          days,
        ),
      };
    }),
  ),
];

/** Every event type with a message, by type name. */
export const noticesByType: ReadonlyMap<string, NotifiedEvent> = new Map(
  [...orderNotices, ...paymentNotices, ...shippingNotices].map((entry) => [entry.eventType.type, entry]),
);
