import { type Amount, check, InvalidArgumentError, money } from "@agora/service-kit";
import type { PaymentRow, PaymentStatusName } from "./db/schema";

/** Token of a stored card: "pm_" and 24 hex digits. */
export const paymentMethodIdPattern = /^pm_[0-9a-f]{24}$/;

/** A validated AuthorizePayment request. */
export interface AuthorizationRequest {
  readonly orderId: string;
  readonly customerId: string;
  readonly amount: Amount;
  readonly paymentMethodId: string;
}

/** A validated RefundPayment request. */
export interface RefundRequest {
  readonly paymentId: string;
  readonly refundId: string;
  readonly amount: Amount;
  readonly reason: string;
}

/** Largest amount one payment may hold: 1,000,000 units of its currency. */
export const maxPaymentNanos = 1_000_000n * 1_000_000_000n;

/** Checks an id Agora issues (a UUID, lower-cased). */
export function validateId(field: string, value: string | undefined): string {
  return check.uuid(field, value);
}

/** Checks a card token from TokenizeCard. */
export function validatePaymentMethodId(field: string, value: string | undefined): string {
  return check.pattern(field, value, paymentMethodIdPattern, "a token from TokenizeCard, such as pm_3c7f…");
}

function validateAmount(field: string, value: Parameters<typeof money.validateMoney>[1]): Amount {
  const amount = money.validateMoney(field, value);
  if (amount.nanos > maxPaymentNanos) throw new InvalidArgumentError(field, "must be at most 1000000 units");
  return amount;
}

/** Checks an AuthorizePayment request, naming the first bad field. */
export function validateAuthorization(request: {
  orderId?: string;
  customerId?: string;
  amount?: Parameters<typeof money.validateMoney>[1];
  paymentMethodId?: string;
}): AuthorizationRequest {
  return {
    orderId: validateId("order_id", request.orderId),
    customerId: check.text("customer_id", request.customerId, { max: 100 }),
    amount: validateAmount("amount", request.amount),
    paymentMethodId: validatePaymentMethodId("payment_method_id", request.paymentMethodId),
  };
}

/** Checks a RefundPayment request, naming the first bad field. */
export function validateRefund(request: {
  paymentId?: string;
  refundId?: string;
  amount?: Parameters<typeof money.validateMoney>[1];
  reason?: string;
}): RefundRequest {
  const paymentId = validateId("payment_id", request.paymentId);
  const refundId = check.text("refund_id", request.refundId, { min: 8, max: 100 });
  if (!/^[\x21-\x7e]+$/.test(refundId)) {
    throw new InvalidArgumentError("refund_id", "must be printable ASCII without spaces");
  }
  return {
    paymentId,
    refundId,
    amount: validateAmount("amount", request.amount),
    reason: check.optionalText("reason", request.reason, { max: 500 }),
  };
}

/**
 * Why a repeated AuthorizePayment for an order differs from the first (another customer or amount),
 * or undefined when it is the same request. The card may differ: the first authorization stands.
 */
export function authorizationMismatch(existing: PaymentRow, request: AuthorizationRequest): string | undefined {
  if (existing.customerId !== request.customerId) return "another customer";
  if (existing.currency !== request.amount.currency || existing.amountNanos !== request.amount.nanos) {
    return `another amount (the first was ${money.formatAmount({ currency: existing.currency, nanos: existing.amountNanos })})`;
  }
  return undefined;
}

/** What can still be refunded of a payment. */
export function refundableOf(payment: Pick<PaymentRow, "currency" | "capturedNanos" | "refundedNanos">): Amount {
  return { currency: payment.currency, nanos: payment.capturedNanos - payment.refundedNanos };
}

/** The status after refunding: REFUNDED once everything captured is paid back. */
export function statusAfterRefund(capturedNanos: bigint, refundedNanos: bigint): PaymentStatusName {
  return refundedNanos >= capturedNanos ? "REFUNDED" : "PARTIALLY_REFUNDED";
}

/**
 * What a capture can do with a payment in `status`: "capturable" (AUTHORIZED), "captured" (it was,
 * refunds since included), or "not capturable" (VOIDED or DECLINED: nothing is held).
 */
export function captureStanding(status: PaymentStatusName): "capturable" | "captured" | "not capturable" {
  switch (status) {
    case "AUTHORIZED":
      return "capturable";
    case "CAPTURED":
    case "PARTIALLY_REFUNDED":
    case "REFUNDED":
      return "captured";
    case "VOIDED":
    case "DECLINED":
      return "not capturable";
  }
}
