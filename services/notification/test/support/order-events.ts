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

/** One event as a service would record it in its outbox. */
export interface StoryEvent {
  readonly eventType: EventType<unknown>;
  readonly payload: unknown;
  readonly aggregateId: string;
}

const eur = (cents: number): Money => ({
  currencyCode: "EUR",
  units: Math.floor(cents / 100),
  nanos: (cents % 100) * 10_000_000,
});

/** An order of 2 × kettle (59.90) and 1 × beans (14.50): 3 items, 134.30 EUR. */
export function newOrder(customerId: string, orderId = randomUUID()): Order {
  const placed = new Date("2026-11-20T10:00:00.000Z");
  return {
    orderId,
    customerId,
    status: OrderStatus.ORDER_STATUS_PENDING,
    lines: [
      {
        productId: "pour-over-kettle",
        sku: "AG-KIT-001",
        name: "Pour-over kettle",
        quantity: 2,
        unitPrice: eur(5990),
        lineTotal: eur(11980),
      },
      {
        productId: "coffee-beans-ethiopia",
        sku: "AG-COF-003",
        name: "Coffee beans, Ethiopia",
        quantity: 1,
        unitPrice: eur(1450),
        lineTotal: eur(1450),
      },
    ],
    total: eur(13430),
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
    history: [],
    createTime: placed,
    updateTime: placed,
  };
}

/** The payment of an order in a status. */
export function paymentOf(order: Order, status: PaymentStatus, changes: Partial<Payment> = {}): Payment {
  return {
    paymentId: `pay_${order.orderId.slice(0, 8)}`,
    orderId: order.orderId,
    customerId: order.customerId,
    status,
    amount: order.total,
    capturedAmount: eur(0),
    refundedAmount: eur(0),
    paymentMethod: { paymentMethodId: "pm_1", brand: "visa", last4: "4242", expMonth: 12, expYear: 2030 },
    declineReason: DeclineReason.DECLINE_REASON_UNSPECIFIED,
    ledger: [],
    createTime: order.createTime,
    updateTime: order.createTime,
    ...changes,
  };
}

/** The shipment of an order in a status. */
export function shipmentOf(order: Order, status: ShipmentStatus, changes: Partial<Shipment> = {}): Shipment {
  return {
    shipmentId: `shp_${order.orderId.slice(0, 8)}`,
    orderId: order.orderId,
    customerId: order.customerId,
    status,
    address: order.shippingAddress,
    items: order.lines.map((line) => ({ sku: line.sku, quantity: line.quantity })),
    quote: { cost: eur(490), carrier: "agora-post", estimatedDays: 2 },
    trackingNumber: "",
    createTime: order.createTime,
    dispatchTime: undefined,
    ...changes,
  };
}

const withStatus = (order: Order, status: OrderStatus, statusReason = ""): Order => ({
  ...order,
  status,
  statusReason,
});

/** Every event of an order that ships, is paid and then refunded, in saga order. */
export function shippedAndRefunded(customerId: string): { order: Order; events: StoryEvent[] } {
  const order = newOrder(customerId);
  const payment = (status: PaymentStatus, changes: Partial<Payment> = {}) => ({
    payment: paymentOf(order, status, changes),
  });
  const shipment = (status: ShipmentStatus, changes: Partial<Shipment> = {}) => ({
    shipment: shipmentOf(order, status, changes),
  });
  const paymentId = paymentOf(order, PaymentStatus.PAYMENT_STATUS_AUTHORIZED).paymentId;
  const shipmentId = shipmentOf(order, ShipmentStatus.SHIPMENT_STATUS_CREATED).shipmentId;
  return {
    order,
    events: [
      { eventType: OrderPlacedEvent, payload: { order }, aggregateId: order.orderId },
      {
        eventType: PaymentAuthorizedEvent,
        payload: payment(PaymentStatus.PAYMENT_STATUS_AUTHORIZED),
        aggregateId: paymentId,
      },
      {
        eventType: OrderConfirmedEvent,
        payload: { order: withStatus(order, OrderStatus.ORDER_STATUS_CONFIRMED) },
        aggregateId: order.orderId,
      },
      {
        eventType: ShipmentCreatedEvent,
        payload: shipment(ShipmentStatus.SHIPMENT_STATUS_CREATED),
        aggregateId: shipmentId,
      },
      {
        eventType: ShipmentDispatchedEvent,
        payload: shipment(ShipmentStatus.SHIPMENT_STATUS_DISPATCHED, { trackingNumber: "AP123456DE" }),
        aggregateId: shipmentId,
      },
      {
        eventType: PaymentCapturedEvent,
        payload: payment(PaymentStatus.PAYMENT_STATUS_CAPTURED, { capturedAmount: order.total }),
        aggregateId: paymentId,
      },
      {
        eventType: OrderShippedEvent,
        payload: { order: withStatus(order, OrderStatus.ORDER_STATUS_SHIPPED) },
        aggregateId: order.orderId,
      },
      {
        eventType: PaymentRefundedEvent,
        payload: payment(PaymentStatus.PAYMENT_STATUS_REFUNDED, {
          capturedAmount: order.total,
          refundedAmount: order.total,
        }),
        aggregateId: paymentId,
      },
    ],
  };
}

/** An order cancelled after confirmation: stock released, payment voided, shipment cancelled. */
export function cancelled(customerId: string): { order: Order; events: StoryEvent[] } {
  const order = newOrder(customerId);
  const paymentId = paymentOf(order, PaymentStatus.PAYMENT_STATUS_AUTHORIZED).paymentId;
  const shipmentId = shipmentOf(order, ShipmentStatus.SHIPMENT_STATUS_CREATED).shipmentId;
  return {
    order,
    events: [
      { eventType: OrderPlacedEvent, payload: { order }, aggregateId: order.orderId },
      {
        eventType: PaymentAuthorizedEvent,
        payload: { payment: paymentOf(order, PaymentStatus.PAYMENT_STATUS_AUTHORIZED) },
        aggregateId: paymentId,
      },
      {
        eventType: OrderConfirmedEvent,
        payload: { order: withStatus(order, OrderStatus.ORDER_STATUS_CONFIRMED) },
        aggregateId: order.orderId,
      },
      {
        eventType: ShipmentCreatedEvent,
        payload: { shipment: shipmentOf(order, ShipmentStatus.SHIPMENT_STATUS_CREATED) },
        aggregateId: shipmentId,
      },
      {
        eventType: OrderCancelledEvent,
        payload: {
          order: withStatus(order, OrderStatus.ORDER_STATUS_CANCELLED, "changed my mind"),
          reason: "changed my mind",
        },
        aggregateId: order.orderId,
      },
      {
        eventType: PaymentVoidedEvent,
        payload: { payment: paymentOf(order, PaymentStatus.PAYMENT_STATUS_VOIDED) },
        aggregateId: paymentId,
      },
      {
        eventType: ShipmentCancelledEvent,
        payload: { shipment: shipmentOf(order, ShipmentStatus.SHIPMENT_STATUS_CANCELLED) },
        aggregateId: shipmentId,
      },
    ],
  };
}

/** An order whose payment is declined, and one that needs an operator. */
export function rejectedAndStuck(customerId: string): { orders: Order[]; events: StoryEvent[] } {
  const declined = newOrder(customerId);
  const stuck = newOrder(customerId);
  const reason = "payment declined: insufficient funds";
  return {
    orders: [declined, stuck],
    events: [
      { eventType: OrderPlacedEvent, payload: { order: declined }, aggregateId: declined.orderId },
      {
        eventType: PaymentDeclinedEvent,
        payload: {
          payment: paymentOf(declined, PaymentStatus.PAYMENT_STATUS_DECLINED, {
            declineReason: DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS,
          }),
        },
        aggregateId: paymentOf(declined, PaymentStatus.PAYMENT_STATUS_DECLINED).paymentId,
      },
      {
        eventType: OrderRejectedEvent,
        payload: { order: withStatus(declined, OrderStatus.ORDER_STATUS_REJECTED, reason), reason },
        aggregateId: declined.orderId,
      },
      {
        eventType: OrderNeedsAttentionEvent,
        payload: {
          order: withStatus(stuck, OrderStatus.ORDER_STATUS_NEEDS_ATTENTION, "void kept failing"),
          reason: "void kept failing",
        },
        aggregateId: stuck.orderId,
      },
    ],
  };
}
