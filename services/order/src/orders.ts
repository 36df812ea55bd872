import { type Order, OrderStatus } from "@agora/contracts/agora/order/v1/order";
import { money } from "@agora/service-kit";
import type { OrderLineRow, OrderRow, OrderStatusChangeRow, OrderStatusName } from "./db/schema";

/** An order with its lines and history, as stored. */
export interface OrderView {
  readonly order: OrderRow;
  readonly lines: readonly OrderLineRow[];
  readonly history: readonly OrderStatusChangeRow[];
}

const toProtoStatus: Record<OrderStatusName, OrderStatus> = {
  PENDING: OrderStatus.ORDER_STATUS_PENDING,
  CONFIRMED: OrderStatus.ORDER_STATUS_CONFIRMED,
  SHIPPED: OrderStatus.ORDER_STATUS_SHIPPED,
  REJECTED: OrderStatus.ORDER_STATUS_REJECTED,
  CANCELLED: OrderStatus.ORDER_STATUS_CANCELLED,
  NEEDS_ATTENTION: OrderStatus.ORDER_STATUS_NEEDS_ATTENTION,
};

/** The proto enum value of a stored status. */
export function protoStatusOf(status: OrderStatusName): OrderStatus {
  return toProtoStatus[status];
}

/** Statuses after which nothing changes any more: WatchOrder ends there. */
export const finalStatuses: ReadonlySet<OrderStatusName> = new Set(["SHIPPED", "REJECTED", "CANCELLED"]);

/** True for SHIPPED, REJECTED and CANCELLED. */
export function isFinal(status: OrderStatusName): boolean {
  return finalStatuses.has(status);
}

/** "visa •••• 4242": what the order keeps of the card. */
export function paymentMethodSummary(brand: string, last4: string): string {
  return `${brand || "card"} •••• ${last4}`;
}

/** Where an order list page stopped: lists are ordered newest first by (create time, order id). */
export interface OrderCursor {
  /** Create time in milliseconds since the epoch. */
  readonly t: number;
  readonly id: string;
}

/** Type guard for ListOrders page tokens. */
export function isOrderCursor(value: unknown): value is OrderCursor {
  return (
    typeof value === "object" &&
    value !== null &&
    Number.isSafeInteger((value as OrderCursor).t) &&
    typeof (value as OrderCursor).id === "string" &&
    /^[0-9a-f-]{36}$/.test((value as OrderCursor).id)
  );
}

/** The proto Order for a stored order. */
export function toOrderProto(view: OrderView): Order {
  const { order } = view;
  const currency = order.currency;
  return {
    orderId: order.orderId,
    customerId: order.customerId,
    status: protoStatusOf(order.status),
    lines: view.lines.map((line) => ({
      productId: line.productId,
      sku: line.sku,
      name: line.name,
      quantity: line.quantity,
      unitPrice: money.toMoney({ currency, nanos: line.unitPriceNanos }),
      lineTotal: money.toMoney({ currency, nanos: line.unitPriceNanos * BigInt(line.quantity) }),
    })),
    total: money.toMoney({ currency, nanos: order.totalNanos }),
    shippingAddress: order.shippingAddress,
    paymentMethodSummary: order.paymentMethodSummary,
    paymentId: order.paymentId,
    statusReason: order.statusReason,
    history: view.history.map((change) => ({
      status: protoStatusOf(change.status),
      reason: change.reason,
      changeTime: change.changedAt,
    })),
    createTime: order.createdAt,
    updateTime: order.updatedAt,
  };
}
