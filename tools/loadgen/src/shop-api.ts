/** A product as the flows need it. */
export interface ProductRef {
  productId: string;
  sku: string;
  name: string;
  category: string;
}

/** One page of products. */
export interface ProductPage {
  products: ProductRef[];
  nextPageToken: string;
}

/** A logged-in customer. */
export interface Session {
  customerId: string;
  accessToken: string;
  /** Epoch milliseconds after which the token is no longer valid (Infinity when unknown). */
  expiresAt: number;
}

/** A new customer's details. */
export interface NewCustomer {
  email: string;
  password: string;
  displayName: string;
}

/** What an order asks for. */
export interface NewOrder {
  idempotencyKey: string;
  lines: Array<{ productId: string; quantity: number }>;
  recipientName: string;
}

/** An order status by its proto enum name, e.g. "ORDER_STATUS_CONFIRMED". */
export type OrderStatusName = string;

/** Statuses after which an order never changes again. */
export const terminalStatuses: ReadonlySet<OrderStatusName> = new Set([
  "ORDER_STATUS_SHIPPED",
  "ORDER_STATUS_REJECTED",
  "ORDER_STATUS_CANCELLED",
]);

/** Statuses that mean the order was confirmed (now or earlier). */
export const confirmedStatuses: ReadonlySet<OrderStatusName> = new Set([
  "ORDER_STATUS_CONFIRMED",
  "ORDER_STATUS_SHIPPED",
]);

/** Per-call options. */
export interface CallOptions {
  /** Cancels the call (end of the run). */
  signal?: AbortSignal;
}

/**
 * The shop as the flows use it, one method per user action. Two implementations: the gateway over
 * HTTP/JSON (http-api.ts) and the services directly over gRPC (grpc-api.ts). Every method rejects
 * with an {@link ApiError} naming the failure.
 */
export interface ShopApi {
  /** Where the calls go, for the report. */
  readonly target: string;
  listProducts(
    request: { pageSize: number; pageToken?: string; category?: string },
    options?: CallOptions,
  ): Promise<ProductPage>;
  searchProducts(query: string, pageSize: number, options?: CallOptions): Promise<ProductPage>;
  /** The product page: the product and its stock. */
  viewProduct(product: ProductRef, options?: CallOptions): Promise<void>;
  register(customer: NewCustomer, options?: CallOptions): Promise<{ customerId: string }>;
  login(email: string, password: string, options?: CallOptions): Promise<Session>;
  placeOrder(
    session: Session,
    order: NewOrder,
    options?: CallOptions,
  ): Promise<{ orderId: string; status: OrderStatusName }>;
  getOrder(session: Session, orderId: string, options?: CallOptions): Promise<OrderStatusName>;
  /**
   * Streams the order's status (now and after every change) to `onStatus` until `onStatus` returns
   * true, the stream ends (resolves "ended") or the call fails.
   */
  watchOrder(
    session: Session,
    orderId: string,
    onStatus: (status: OrderStatusName) => boolean,
    options?: CallOptions,
  ): Promise<"stopped" | "ended">;
  close(): void;
}

/** host:port of each service the flows call directly. */
export interface GrpcAddresses {
  catalog: string;
  inventory: string;
  order: string;
  identity: string;
}

/** The default local addresses (ARCHITECTURE.md ports). */
export const defaultGrpcAddresses: GrpcAddresses = {
  catalog: "127.0.0.1:50051",
  inventory: "127.0.0.1:50052",
  order: "127.0.0.1:50053",
  identity: "127.0.0.1:50056",
};
