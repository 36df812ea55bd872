import { randomUUID } from "node:crypto";
import type { Address } from "@agora/contracts/agora/common/v1/address";
import { type Order, OrderStatus } from "@agora/contracts/agora/order/v1/order";

/** A valid German address. */
export const berlin: Address = {
  recipientName: "Ada Lovelace",
  addressLines: ["Unter den Linden 1"],
  city: "Berlin",
  postalCode: "10117",
  countryCode: "DE",
  region: "",
};

/** A confirmed order as the order service publishes it. */
export function confirmedOrder(overrides: Partial<Order> = {}): Order {
  const orderId = randomUUID();
  return {
    orderId,
    customerId: "customer-1",
    status: OrderStatus.ORDER_STATUS_CONFIRMED,
    lines: [
      {
        productId: "espresso-machine",
        sku: "AG-KIT-001",
        name: "Espresso machine",
        quantity: 1,
        unitPrice: { currencyCode: "EUR", units: 399, nanos: 0 },
        lineTotal: { currencyCode: "EUR", units: 399, nanos: 0 },
      },
      {
        productId: "coffee-beans-ethiopia",
        sku: "AG-COF-002",
        name: "Coffee beans",
        quantity: 2,
        unitPrice: { currencyCode: "EUR", units: 14, nanos: 500_000_000 },
        lineTotal: { currencyCode: "EUR", units: 29, nanos: 0 },
      },
    ],
    total: { currencyCode: "EUR", units: 428, nanos: 0 },
    shippingAddress: berlin,
    paymentMethodSummary: "visa •••• 4242",
    paymentId: randomUUID(),
    statusReason: "",
    history: [],
    ...overrides,
  };
}
