import type { PaymentServiceService } from "@agora/contracts/agora/payment/v1/payment_service";
import { type CallContext, check, exactlyOneOf, NotFoundError, type ServiceHandlers } from "@agora/service-kit";
import { validateCard } from "./cards";
import { validateAuthorization, validateId, validateRefund } from "./payment-rules";
import type { Payments, PaymentView } from "./payments";
import { toPayment, toPaymentMethod } from "./proto-mapping";

/**
 * The PaymentService RPCs: validate the request, call {@link Payments}, map to protos. Card numbers
 * and CVCs exist only inside TokenizeCard's request and are never logged (nothing here logs requests).
 */
export function paymentHandlers(payments: Payments): ServiceHandlers<typeof PaymentServiceService> {
  const limits = (context: CallContext) => ({ deadline: context.deadline, signal: context.signal });
  return {
    async tokenizeCard(request, context) {
      const card = validateCard(request, new Date());
      return { paymentMethod: toPaymentMethod(await payments.tokenize(card, limits(context))) };
    },

    async authorizePayment(request, context) {
      const payment = await payments.authorize(validateAuthorization(request), limits(context));
      return { payment: toPayment(payment) };
    },

    async capturePayment(request, context) {
      const paymentId = validateId("payment_id", request.paymentId);
      return { payment: toPayment(await payments.capture(paymentId, limits(context))) };
    },

    async voidPayment(request, context) {
      const paymentId = validateId("payment_id", request.paymentId);
      const reason = check.optionalText("reason", request.reason, { max: 500 }) || "voided by the caller";
      return { payment: toPayment(await payments.void(paymentId, reason, limits(context))) };
    },

    async refundPayment(request, context) {
      return { payment: toPayment(await payments.refund(validateRefund(request), limits(context))) };
    },

    async getPayment(request, context) {
      const key = exactlyOneOf(["payment_id", request.paymentId], ["order_id", request.orderId]);
      const id = validateId(key.field, key.value);
      const payment: PaymentView | undefined =
        key.field === "payment_id" ? await payments.findById(id) : await payments.findByOrder(id);
      // Ownership: a customer sees only their own payments; another's is as good as absent.
      if (!payment || (context.customerId !== undefined && payment.customerId !== context.customerId)) {
        throw new NotFoundError(`payment for ${key.field} ${id} not found`);
      }
      return { payment: toPayment(payment) };
    },
  };
}
