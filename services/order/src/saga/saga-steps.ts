import type { SagaStep } from "../db/schema";
import { codeOf, detailsOf, GrpcCode as GrpcStatus, statusLabel } from "../grpc-status";
import type { StepOutcome } from "./place-order-saga";

/** One SKU and quantity to hold. */
export interface StockLine {
  readonly sku: string;
  readonly quantity: number;
}

/** State of an order's reservation as inventory reports it. */
export type ReservationState = "RESERVED" | "COMMITTED" | "RELEASED" | "EXPIRED" | "OTHER";

/** The inventory calls the saga makes, each idempotent by order id. Errors are gRPC service errors. */
export interface StockPort {
  /**
   * Holds the lines for the order. Reserving again returns the order's first reservation unchanged —
   * also one that was RELEASED or EXPIRED meanwhile, which holds nothing.
   */
  reserve(orderId: string, lines: readonly StockLine[]): Promise<ReservationState>;
  commit(orderId: string): Promise<void>;
  release(orderId: string, reason: string): Promise<void>;
}

/** How a payment stands, as far as the saga cares. */
export type PaymentState = "AUTHORIZED" | "DECLINED" | "CAPTURED" | "VOIDED" | "REFUNDED" | "OTHER";

/** A payment as the payment service reported it. */
export interface PaymentFacts {
  readonly paymentId: string;
  readonly state: PaymentState;
  /** Why it was declined, in words ("insufficient funds"); empty unless DECLINED. */
  readonly declineReason: string;
}

/** What the saga needs to authorize an order's payment. */
export interface AuthorizationRequest {
  readonly orderId: string;
  readonly customerId: string;
  readonly currency: string;
  readonly totalNanos: bigint;
  readonly paymentMethodId: string;
}

/** The payment calls the saga makes. Errors are gRPC service errors. */
export interface PaymentPort {
  /** Idempotent by order id; a decline is a DECLINED payment, not an error. */
  authorize(request: AuthorizationRequest): Promise<PaymentFacts>;
  /** The order's payment, or undefined when the payment service has none. */
  findByOrder(orderId: string): Promise<PaymentFacts | undefined>;
  /** Cancels an authorization; idempotent. */
  void(paymentId: string, reason: string): Promise<PaymentFacts>;
}

/** The shipping call a cancellation makes. Errors are gRPC service errors. */
export interface ShipmentPort {
  /**
   * Stops the order's shipment before it leaves — or, when shipping has not created it yet, makes sure
   * it never will. Idempotent by order id. FAILED_PRECONDITION when the parcel has left.
   */
  cancel(orderId: string, reason: string): Promise<void>;
}

/** The downstream services the saga's steps call. */
export interface SagaPorts {
  readonly stock: StockPort;
  readonly payments: PaymentPort;
  readonly shipments: ShipmentPort;
}

/** Everything a step needs to know about its order. */
export interface SagaOrder extends AuthorizationRequest {
  readonly lines: readonly StockLine[];
  /** Why the saga compensates (for CancelShipment, ReleaseReservation and VoidPayment). */
  readonly compensationReason: string;
}

/** A saga's view of an order: its row and lines (in line order). */
export function sagaOrderOf(
  order: AuthorizationRequest,
  lines: readonly StockLine[],
  compensationReason: string,
): SagaOrder {
  return {
    orderId: order.orderId,
    customerId: order.customerId,
    currency: order.currency,
    totalNanos: order.totalNanos,
    paymentMethodId: order.paymentMethodId,
    lines: lines.map((line) => ({ sku: line.sku, quantity: line.quantity })),
    compensationReason,
  };
}

/** Codes that say "no, for good" about the request itself, as opposed to the system being unwell. */
const refusalCodes: ReadonlySet<number> = new Set([
  GrpcStatus.FAILED_PRECONDITION,
  GrpcStatus.NOT_FOUND,
  GrpcStatus.INVALID_ARGUMENT,
  GrpcStatus.OUT_OF_RANGE,
  GrpcStatus.ALREADY_EXISTS,
]);

/**
 * Describes a failed call for the saga log and the order's status reason, for example
 * "UNAVAILABLE: inventory is failing; circuit open".
 */
export function describeError(error: unknown): string {
  return `${statusLabel(codeOf(error))}: ${detailsOf(error)}`.slice(0, 500);
}

/** True when a failed call's error is a definite answer rather than a passing failure. */
export function isRefusal(error: unknown): boolean {
  const code = codeOf(error);
  return code !== undefined && refusalCodes.has(code);
}

function failed(error: unknown): StepOutcome {
  return { kind: "failed", error: describeError(error) };
}

async function voidPayment(order: SagaOrder, payments: PaymentPort): Promise<StepOutcome> {
  // Ask first: the authorization may never have reached the payment service, or was declined.
  const payment = await payments.findByOrder(order.orderId);
  if (!payment) return { kind: "done" };
  switch (payment.state) {
    case "DECLINED":
    case "VOIDED":
      return { kind: "done" };
    case "AUTHORIZED": {
      const voided = await payments.void(payment.paymentId, order.compensationReason || "order not completed");
      return voided.state === "VOIDED"
        ? { kind: "done" }
        : { kind: "refused", reason: `payment ${payment.paymentId} is ${voided.state} after the void` };
    }
    default:
      return {
        kind: "refused",
        reason: `payment ${payment.paymentId} is ${payment.state}; only an authorization can be voided`,
      };
  }
}

/**
 * Runs one saga step against the downstream services and classifies how it ended: done, refused
 * (a business "no": out of stock, declined, reservation gone, a parcel that has left, or a
 * compensation that cannot be done) or failed (may pass: retry later). Never throws.
 */
export async function runStep(step: SagaStep, order: SagaOrder, ports: SagaPorts): Promise<StepOutcome> {
  try {
    switch (step) {
      case "RESERVE_STOCK":
        try {
          const state = await ports.stock.reserve(order.orderId, order.lines);
          if (state === "RESERVED" || state === "COMMITTED") return { kind: "done" };
          // A reservation from an earlier attempt that has lapsed since: it holds nothing.
          return { kind: "refused", reason: `the stock reservation is ${state.toLowerCase()}` };
        } catch (error) {
          if (codeOf(error) === GrpcStatus.FAILED_PRECONDITION) {
            const details = detailsOf(error);
            return {
              kind: "refused",
              reason: details.startsWith("out of stock") ? details : `out of stock: ${details}`,
            };
          }
          if (isRefusal(error)) return { kind: "refused", reason: `stock not reserved: ${describeError(error)}` };
          return failed(error);
        }
      case "AUTHORIZE_PAYMENT":
        try {
          const payment = await ports.payments.authorize(order);
          if (payment.state === "AUTHORIZED" || payment.state === "CAPTURED") {
            return { kind: "done", paymentId: payment.paymentId };
          }
          if (payment.state === "DECLINED") {
            return {
              kind: "refused",
              reason: `payment declined: ${payment.declineReason || "declined by the card issuer"}`,
              paymentId: payment.paymentId,
            };
          }
          return {
            kind: "refused",
            reason: `payment ${payment.paymentId} is ${payment.state}`,
            paymentId: payment.paymentId,
          };
        } catch (error) {
          if (isRefusal(error)) return { kind: "refused", reason: `payment not authorized: ${describeError(error)}` };
          return failed(error);
        }
      case "COMMIT_STOCK":
        try {
          await ports.stock.commit(order.orderId);
          return { kind: "done" };
        } catch (error) {
          if (isRefusal(error)) {
            return { kind: "refused", reason: `stock reservation could not be committed: ${detailsOf(error)}` };
          }
          return failed(error);
        }
      case "CANCEL_SHIPMENT":
        try {
          await ports.shipments.cancel(order.orderId, order.compensationReason || "order cancelled");
          return { kind: "done" };
        } catch (error) {
          // The parcel has left: shipping's answer is final and says which shipment and tracking number.
          if (codeOf(error) === GrpcStatus.FAILED_PRECONDITION) {
            return { kind: "refused", reason: detailsOf(error), shipped: true };
          }
          if (isRefusal(error)) return { kind: "refused", reason: describeError(error) };
          return failed(error);
        }
      case "VOID_PAYMENT":
        try {
          return await voidPayment(order, ports.payments);
        } catch (error) {
          if (isRefusal(error)) return { kind: "refused", reason: describeError(error) };
          return failed(error);
        }
      case "RELEASE_STOCK":
        try {
          await ports.stock.release(order.orderId, order.compensationReason || "order not completed");
          return { kind: "done" };
        } catch (error) {
          // No reservation for the order: the reservation never happened, nothing to give back.
          if (codeOf(error) === GrpcStatus.NOT_FOUND) return { kind: "done" };
          if (isRefusal(error)) return { kind: "refused", reason: describeError(error) };
          return failed(error);
        }
      case "DONE":
        return { kind: "refused", reason: "the saga is finished" };
    }
  } catch (error) {
    return failed(error);
  }
}
