import type { Order, OrderStatus } from "@agora/contracts/agora/order/v1/order";
import { orderStatusToJSON } from "@agora/contracts/agora/order/v1/order";
import type { OrderServiceService, PlaceOrderRequest } from "@agora/contracts/agora/order/v1/order_service";
import type { PromiseClient } from "@agora/service-kit";
import { waitUntil } from "@agora/testing";
import * as grpc from "@grpc/grpc-js";

/** Test cards of the payment service's simulator (proto/agora/payment/v1/payment_service.proto). */
export const cards = {
  approves: "4242 4242 4242 4242",
  declined: "4000 0000 0000 0002",
  insufficientFunds: "4000 0000 0000 9995",
  timesOut: "4000 0000 0000 0259",
  transient: "4000 0000 0000 0341",
} as const;

let counter = 0;

/** A fresh idempotency key. */
export function newKey(prefix = "test"): string {
  counter++;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A valid PlaceOrder request (one pour-over kettle, approving card) with `overrides`. */
export function placeRequest(overrides: Partial<PlaceOrderRequest> & { cardNumber?: string } = {}): PlaceOrderRequest {
  const { cardNumber, ...rest } = overrides;
  return {
    idempotencyKey: newKey(),
    customerId: "customer-ada",
    lines: [{ productId: "pour-over-kettle", quantity: 1 }],
    shippingAddress: {
      recipientName: "Ada Lovelace",
      addressLines: ["12 St James's Square"],
      city: "London",
      postalCode: "SW1Y 4JH",
      countryCode: "GB",
      region: "",
    },
    card: {
      number: cardNumber ?? cards.approves,
      expMonth: 12,
      expYear: new Date().getUTCFullYear() + 3,
      cvc: "123",
      holderName: "Ada Lovelace",
    },
    ...rest,
  };
}

/** "ORDER_STATUS_CONFIRMED" → "CONFIRMED". */
export function statusName(status: OrderStatus): string {
  return orderStatusToJSON(status).replace("ORDER_STATUS_", "");
}

/** Polls GetOrder until the order has `status`, and returns it. */
export async function waitForStatus(
  client: PromiseClient<typeof OrderServiceService>,
  orderId: string,
  status: string,
  timeoutMs = 15_000,
): Promise<Order> {
  let last: Order | undefined;
  try {
    await waitUntil(
      async () => {
        last = (await client.getOrder({ orderId })).order;
        return last !== undefined && statusName(last.status) === status;
      },
      timeoutMs,
      `order ${orderId} ${status}`,
    );
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; it is ${last ? `${statusName(last.status)} (${last.statusReason})` : "missing"}`,
    );
  }
  return last as Order;
}

/** Runs `call` and returns the gRPC status code and details it failed with. */
export async function failure(call: () => Promise<unknown>): Promise<{ code: string; details: string }> {
  try {
    await call();
  } catch (error) {
    const { code, details } = error as grpc.ServiceError;
    return { code: grpc.status[code] ?? String(code), details };
  }
  throw new Error("the call succeeded");
}

/** Metadata the gateway sets for an authenticated customer. */
export function asCustomer(customerId: string): { metadata: Record<string, string> } {
  return { metadata: { "x-agora-customer-id": customerId } };
}
