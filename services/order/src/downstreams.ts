import type { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import { ReservationStatus } from "@agora/contracts/agora/inventory/v1/inventory";
import type { InventoryServiceService } from "@agora/contracts/agora/inventory/v1/inventory_service";
import { DeclineReason, type Payment, PaymentStatus } from "@agora/contracts/agora/payment/v1/payment";
import type { PaymentServiceService } from "@agora/contracts/agora/payment/v1/payment_service";
import type { ShippingServiceService } from "@agora/contracts/agora/shipping/v1/shipping_service";
import { money, type PromiseClient } from "@agora/service-kit";
import { codeOf, GrpcCode } from "./grpc-status";
import type { CardVault, Catalog } from "./place-order";
import type {
  PaymentFacts,
  PaymentPort,
  PaymentState,
  ReservationState,
  ShipmentPort,
  StockPort,
} from "./saga/saga-steps";

const reservationStates: Partial<Record<ReservationStatus, ReservationState>> = {
  [ReservationStatus.RESERVATION_STATUS_RESERVED]: "RESERVED",
  [ReservationStatus.RESERVATION_STATUS_COMMITTED]: "COMMITTED",
  [ReservationStatus.RESERVATION_STATUS_RELEASED]: "RELEASED",
  [ReservationStatus.RESERVATION_STATUS_EXPIRED]: "EXPIRED",
};

/** Inventory behind the saga's {@link StockPort}. */
export function inventoryStock(client: PromiseClient<typeof InventoryServiceService>): StockPort {
  return {
    async reserve(orderId, lines) {
      const { reservation } = await client.reserveStock({
        orderId,
        lines: lines.map((line) => ({ sku: line.sku, quantity: line.quantity })),
      });
      return reservationStates[reservation?.status ?? ReservationStatus.RESERVATION_STATUS_UNSPECIFIED] ?? "OTHER";
    },
    async commit(orderId) {
      await client.commitReservation({ orderId });
    },
    async release(orderId, reason) {
      await client.releaseReservation({ orderId, reason });
    },
  };
}

const paymentStates: Partial<Record<PaymentStatus, PaymentState>> = {
  [PaymentStatus.PAYMENT_STATUS_AUTHORIZED]: "AUTHORIZED",
  [PaymentStatus.PAYMENT_STATUS_DECLINED]: "DECLINED",
  [PaymentStatus.PAYMENT_STATUS_CAPTURED]: "CAPTURED",
  [PaymentStatus.PAYMENT_STATUS_VOIDED]: "VOIDED",
  [PaymentStatus.PAYMENT_STATUS_PARTIALLY_REFUNDED]: "REFUNDED",
  [PaymentStatus.PAYMENT_STATUS_REFUNDED]: "REFUNDED",
};

const declineReasons: Partial<Record<DeclineReason, string>> = {
  [DeclineReason.DECLINE_REASON_GENERIC]: "declined by the card issuer",
  [DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS]: "insufficient funds",
  [DeclineReason.DECLINE_REASON_EXPIRED_CARD]: "the card has expired",
};

function factsOf(payment: Payment | undefined): PaymentFacts {
  if (!payment) throw new Error("payment service answered without a payment");
  const state = paymentStates[payment.status] ?? "OTHER";
  return {
    paymentId: payment.paymentId,
    state,
    declineReason: state === "DECLINED" ? (declineReasons[payment.declineReason] ?? "declined by the card issuer") : "",
  };
}

/** Payment behind the saga's {@link PaymentPort}. */
export function paymentService(client: PromiseClient<typeof PaymentServiceService>): PaymentPort {
  return {
    async authorize(request) {
      const response = await client.authorizePayment({
        orderId: request.orderId,
        customerId: request.customerId,
        amount: money.toMoney({ currency: request.currency, nanos: request.totalNanos }),
        paymentMethodId: request.paymentMethodId,
      });
      return factsOf(response.payment);
    },
    async findByOrder(orderId) {
      try {
        return factsOf((await client.getPayment({ paymentId: "", orderId })).payment);
      } catch (error) {
        if (codeOf(error) === GrpcCode.NOT_FOUND) return undefined;
        throw error;
      }
    },
    async void(paymentId, reason) {
      return factsOf((await client.voidPayment({ paymentId, reason })).payment);
    },
  };
}

/** Shipping behind the saga's {@link ShipmentPort}. */
export function shippingShipments(client: PromiseClient<typeof ShippingServiceService>): ShipmentPort {
  return {
    async cancel(orderId, reason) {
      await client.cancelShipment({ orderId, reason });
    },
  };
}

/** Catalog behind PlaceOrder's {@link Catalog}. */
export function catalogProducts(client: PromiseClient<typeof CatalogServiceService>): Catalog {
  return {
    async batchGet(productIds) {
      const response = await client.batchGetProducts({ productIds: [...productIds] });
      return response.products.map((product) => {
        const price = product.price ? money.amountOf(product.price) : undefined;
        return {
          productId: product.productId,
          sku: product.sku,
          name: product.name,
          currency: price?.currency ?? "",
          unitPriceNanos: price?.nanos ?? -1n,
        };
      });
    },
  };
}

/** Payment's TokenizeCard behind PlaceOrder's {@link CardVault}. */
export function paymentCards(client: PromiseClient<typeof PaymentServiceService>): CardVault {
  return {
    async tokenize(card) {
      const { paymentMethod } = await client.tokenizeCard({
        number: card.number,
        expMonth: card.expMonth,
        expYear: card.expYear,
        cvc: card.cvc,
        holderName: card.holderName,
      });
      if (!paymentMethod?.paymentMethodId) throw new Error("payment service answered without a payment method");
      return { paymentMethodId: paymentMethod.paymentMethodId, brand: paymentMethod.brand, last4: paymentMethod.last4 };
    },
  };
}
