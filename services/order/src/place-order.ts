import type { PaymentCard } from "@agora/contracts/agora/order/v1/order";
import {
  currentRequestContext,
  FailedPreconditionError,
  InvalidArgumentError,
  traceHeaders,
  UnavailableError,
} from "@agora/service-kit";
import { codeOf, detailsOf, GrpcCode } from "./grpc-status";
import type { NewOrder, OrderStore, PricedLine } from "./order-store";
import type { RequestedLine, ValidPlaceOrder } from "./order-validation";
import { type OrderView, paymentMethodSummary } from "./orders";
import type { SagaStarter } from "./saga/saga-executor";
import { sagaOrderOf } from "./saga/saga-steps";

/** A product as PlaceOrder needs it from the catalog. */
export interface CatalogProduct {
  readonly productId: string;
  readonly sku: string;
  readonly name: string;
  readonly currency: string;
  readonly unitPriceNanos: bigint;
}

/** The catalog: prices products (BatchGetProducts). Errors are gRPC service errors. */
export interface Catalog {
  batchGet(productIds: readonly string[]): Promise<CatalogProduct[]>;
}

/** A card stored by the payment service. */
export interface StoredCard {
  readonly paymentMethodId: string;
  readonly brand: string;
  readonly last4: string;
}

/** The payment service's card vault (TokenizeCard). Errors are gRPC service errors. */
export interface CardVault {
  tokenize(card: PaymentCard): Promise<StoredCard>;
}

/** What PlaceOrder works with. */
export interface PlaceOrderDeps {
  readonly store: OrderStore;
  readonly catalog: Catalog;
  readonly cards: CardVault;
  readonly sagaDeadlineMs: number;
  /** Starts the saga of a new order: at once in this replica when a slot is free. */
  readonly sagas: SagaStarter;
}

const passingCodes: ReadonlySet<number> = new Set([
  GrpcCode.UNAVAILABLE,
  GrpcCode.DEADLINE_EXCEEDED,
  GrpcCode.RESOURCE_EXHAUSTED,
  GrpcCode.ABORTED,
]);

function unavailable(downstream: string, what: string, error: unknown): UnavailableError {
  return new UnavailableError(`${what}: ${downstream} did not answer (${detailsOf(error)}); retry with the same key`);
}

/**
 * Prices the lines through the catalog. A product the catalog does not know is INVALID_ARGUMENT
 * naming its line (`lines[2].product_id`): the request refers to something that does not exist.
 */
export async function priceLines(
  lines: readonly RequestedLine[],
  catalog: Catalog,
): Promise<{ currency: string; lines: PricedLine[] }> {
  let products: CatalogProduct[];
  try {
    products = await catalog.batchGet(lines.map((line) => line.productId));
  } catch (error) {
    const code = codeOf(error);
    if (code === GrpcCode.NOT_FOUND) {
      const details = detailsOf(error);
      const index = lines.findIndex((line) => new RegExp(`(^|[\\s:,])${line.productId}($|[\\s,])`).test(details));
      if (index >= 0) {
        throw new InvalidArgumentError(
          `lines[${index}].product_id`,
          `there is no product ${lines[index]?.productId} in the catalog`,
        );
      }
      throw new InvalidArgumentError("lines", `the catalog does not know every product (${details})`);
    }
    if (code === GrpcCode.INVALID_ARGUMENT) {
      const match = /product_ids\[(\d+)\]:\s*(.*)/.exec(detailsOf(error));
      if (match) throw new InvalidArgumentError(`lines[${match[1]}].product_id`, match[2] ?? "is not valid");
      throw new InvalidArgumentError("lines", detailsOf(error));
    }
    if (code !== undefined && passingCodes.has(code)) throw unavailable("the catalog", "cannot price the order", error);
    throw error;
  }
  const byId = new Map(products.map((product) => [product.productId, product]));
  const currencies = new Set<string>();
  const priced = lines.map((line, index): PricedLine => {
    const product = byId.get(line.productId);
    if (!product) {
      throw new InvalidArgumentError(
        `lines[${index}].product_id`,
        `there is no product ${line.productId} in the catalog`,
      );
    }
    if (product.unitPriceNanos <= 0n || product.currency === "") {
      throw new FailedPreconditionError(`lines[${index}]: product ${line.productId} has no price`);
    }
    currencies.add(product.currency);
    return {
      productId: product.productId,
      sku: product.sku,
      name: product.name,
      quantity: line.quantity,
      unitPriceNanos: product.unitPriceNanos,
    };
  });
  if (currencies.size > 1) {
    throw new FailedPreconditionError(
      `lines: the products are priced in different currencies (${[...currencies].join(", ")}); order them separately`,
    );
  }
  return { currency: [...currencies][0] as string, lines: priced };
}

/** Stores the card with the payment service; its validation errors name `card.<field>`. */
export async function tokenizeCard(card: PaymentCard, cards: CardVault): Promise<StoredCard> {
  try {
    return await cards.tokenize(card);
  } catch (error) {
    const code = codeOf(error);
    if (code === GrpcCode.INVALID_ARGUMENT || code === GrpcCode.FAILED_PRECONDITION) {
      const details = detailsOf(error);
      const match = /^([a-z_]+(?:\[\d+\])?(?:\.[a-z_]+)*):\s*(.*)$/s.exec(details);
      if (match) throw new InvalidArgumentError(`card.${match[1]}`, match[2] ?? "is not valid");
      throw new InvalidArgumentError("card", details);
    }
    if (code !== undefined && passingCodes.has(code)) throw unavailable("payment", "cannot store the card", error);
    throw error;
  }
}

function sameOrder(view: OrderView, request: ValidPlaceOrder): OrderView {
  if (view.order.requestHash !== request.requestHash) {
    throw new InvalidArgumentError(
      "idempotency_key",
      `was already used for order ${view.order.orderId} with other lines or another address; use a new key`,
    );
  }
  return view;
}

/**
 * PlaceOrder: returns the order placed before with the same key, or prices the lines, stores the
 * card as a token, stores the order PENDING with its saga and `agora.order.placed` in one
 * transaction, starts the saga and returns at once. Two concurrent calls with one key: the unique
 * constraint lets one insert win; the other reads the winner back and returns it.
 */
export async function placeOrder(request: ValidPlaceOrder, deps: PlaceOrderDeps): Promise<OrderView> {
  const existing = await deps.store.findByKey(request.customerId, request.idempotencyKey);
  if (existing) return sameOrder(existing, request);
  const { currency, lines } = await priceLines(request.lines, deps.catalog);
  const card = await tokenizeCard(request.card, deps.cards);
  const order: NewOrder = {
    customerId: request.customerId,
    idempotencyKey: request.idempotencyKey,
    requestHash: request.requestHash,
    currency,
    lines,
    shippingAddress: request.shippingAddress,
    paymentMethodId: card.paymentMethodId,
    paymentMethodSummary: paymentMethodSummary(card.brand, card.last4),
  };
  const saga = {
    deadlineMs: deps.sagaDeadlineMs,
    correlationId: currentRequestContext()?.correlationId ?? "",
    traceHeaders: traceHeaders(),
  };
  const lease = deps.sagas.reserveLease();
  let placed: Awaited<ReturnType<OrderStore["place"]>>;
  try {
    placed = await deps.store.place(order, { ...saga, lease });
  } catch (error) {
    if (lease) deps.sagas.releaseLease();
    throw error;
  }
  const { view, created } = placed;
  if (!created) {
    if (lease) deps.sagas.releaseLease();
    return sameOrder(view, request);
  }
  if (!lease) {
    deps.sagas.kick();
    return view;
  }
  const sagaOrder = sagaOrderOf(
    view.order,
    view.lines.map((line) => ({ sku: line.sku, quantity: line.quantity })),
    "",
  );
  deps.sagas.adopt(
    { orderId: view.order.orderId, leaseToken: lease.token, takenOver: false, ...saga },
    { kind: "run", step: "RESERVE_STOCK", order: sagaOrder },
  );
  return view;
}
