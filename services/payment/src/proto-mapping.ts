import {
  DeclineReason,
  type LedgerEntry,
  LedgerEntryType,
  type Payment,
  type PaymentMethod,
  PaymentStatus,
} from "@agora/contracts/agora/payment/v1/payment";
import { money } from "@agora/service-kit";
import type {
  declineReasons,
  LedgerEntryRow,
  LedgerEntryTypeName,
  PaymentMethodRow,
  PaymentStatusName,
} from "./db/schema";
import type { PaymentView } from "./payments";

const statuses: Record<PaymentStatusName, PaymentStatus> = {
  AUTHORIZED: PaymentStatus.PAYMENT_STATUS_AUTHORIZED,
  DECLINED: PaymentStatus.PAYMENT_STATUS_DECLINED,
  CAPTURED: PaymentStatus.PAYMENT_STATUS_CAPTURED,
  VOIDED: PaymentStatus.PAYMENT_STATUS_VOIDED,
  PARTIALLY_REFUNDED: PaymentStatus.PAYMENT_STATUS_PARTIALLY_REFUNDED,
  REFUNDED: PaymentStatus.PAYMENT_STATUS_REFUNDED,
};

const declines: Record<(typeof declineReasons)[number], DeclineReason> = {
  GENERIC: DeclineReason.DECLINE_REASON_GENERIC,
  INSUFFICIENT_FUNDS: DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS,
  EXPIRED_CARD: DeclineReason.DECLINE_REASON_EXPIRED_CARD,
};

const entryTypes: Record<LedgerEntryTypeName, LedgerEntryType> = {
  AUTHORIZATION: LedgerEntryType.LEDGER_ENTRY_TYPE_AUTHORIZATION,
  CAPTURE: LedgerEntryType.LEDGER_ENTRY_TYPE_CAPTURE,
  VOID: LedgerEntryType.LEDGER_ENTRY_TYPE_VOID,
  REFUND: LedgerEntryType.LEDGER_ENTRY_TYPE_REFUND,
};

/** A stored card as the proto PaymentMethod (brand, last four, expiry; nothing else exists). */
export function toPaymentMethod(row: PaymentMethodRow): PaymentMethod {
  return {
    paymentMethodId: row.paymentMethodId,
    brand: row.brand,
    last4: row.last4,
    expMonth: row.expMonth,
    expYear: row.expYear,
  };
}

function toLedgerEntry(row: LedgerEntryRow): LedgerEntry {
  return {
    entryId: row.entryId,
    type: entryTypes[row.type],
    amount: money.toMoney({ currency: row.currency, nanos: row.amountNanos }),
    createTime: row.createdAt,
    processorReference: row.processorReference,
  };
}

/** A payment with its card and ledger as the proto Payment. */
export function toPayment(view: PaymentView): Payment {
  const amount = (nanos: bigint) => money.toMoney({ currency: view.currency, nanos });
  return {
    paymentId: view.paymentId,
    orderId: view.orderId,
    customerId: view.customerId,
    status: statuses[view.status],
    amount: amount(view.amountNanos),
    capturedAmount: amount(view.capturedNanos),
    refundedAmount: amount(view.refundedNanos),
    paymentMethod: toPaymentMethod(view.method),
    declineReason: view.declineReason ? declines[view.declineReason] : DeclineReason.DECLINE_REASON_UNSPECIFIED,
    ledger: view.ledger.map(toLedgerEntry),
    createTime: view.createdAt,
    updateTime: view.updatedAt,
  };
}
