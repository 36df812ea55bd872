import { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import type { Product } from "@agora/contracts/agora/catalog/v1/product";
import { IdentityServiceService } from "@agora/contracts/agora/identity/v1/identity_service";
import { InventoryServiceService } from "@agora/contracts/agora/inventory/v1/inventory_service";
import { orderStatusToJSON } from "@agora/contracts/agora/order/v1/order";
import { OrderServiceService } from "@agora/contracts/agora/order/v1/order_service";
import {
  type ClientPolicies,
  createClient,
  createLogger,
  isServiceError,
  metadataKeys,
  type PromiseClient,
  statusName,
} from "@agora/service-kit";
import { AbortedFlowError, ApiError } from "./errors";
import type {
  CallOptions,
  GrpcAddresses,
  NewCustomer,
  NewOrder,
  OrderStatusName,
  ProductPage,
  ProductRef,
  Session,
  ShopApi,
} from "./shop-api";

/** Settings of the gRPC clients. */
export interface GrpcApiOptions {
  addresses: GrpcAddresses;
  /** Deadline of one unary call. */
  timeoutMs: number;
}

function toRef(product: Product | undefined): ProductRef {
  if (!product) throw new ApiError("bad-response", "product is missing");
  return { productId: product.productId, sku: product.sku, name: product.name, category: product.category };
}

/**
 * Runs a call and turns its failure into an {@link ApiError} `grpc:<STATUS>`; a call cut off by the
 * end of the run is an {@link AbortedFlowError}.
 */
async function call<T>(options: CallOptions, fn: () => Promise<T>): Promise<T> {
  if (options.signal?.aborted) throw new AbortedFlowError();
  try {
    return await fn();
  } catch (error) {
    if (options.signal?.aborted) throw new AbortedFlowError();
    if (isServiceError(error)) throw new ApiError(`grpc:${statusName(error.code)}`, error.details || error.message);
    throw error;
  }
}

/**
 * The shop through the services' gRPC APIs, with the service kit's clients and the generated
 * ts-proto definitions: what the gateway would do, without the gateway. PlaceOrder carries the
 * customer id the tool logged in as (the gateway would take it from the token). Calls are made once
 * (no retries, no circuit breaker), so the report shows what the services answered.
 */
export class GrpcShopApi implements ShopApi {
  readonly target: string;
  private readonly catalog: PromiseClient<typeof CatalogServiceService>;
  private readonly inventory: PromiseClient<typeof InventoryServiceService>;
  private readonly order: PromiseClient<typeof OrderServiceService>;
  private readonly identity: PromiseClient<typeof IdentityServiceService>;

  constructor(options: GrpcApiOptions) {
    const logger = createLogger({ service: "loadgen", version: "dev", level: "silent", format: "json" });
    const policies: ClientPolicies = {
      timeoutMs: options.timeoutMs,
      maxAttempts: 1,
      breaker: false,
      bulkhead: false,
    };
    const { addresses } = options;
    this.catalog = createClient(CatalogServiceService, addresses.catalog, { downstream: "catalog", logger, policies });
    this.inventory = createClient(InventoryServiceService, addresses.inventory, {
      downstream: "inventory",
      logger,
      policies,
    });
    this.order = createClient(OrderServiceService, addresses.order, { downstream: "order", logger, policies });
    this.identity = createClient(IdentityServiceService, addresses.identity, {
      downstream: "identity",
      logger,
      policies,
    });
    this.target = `grpc catalog=${addresses.catalog} inventory=${addresses.inventory} order=${addresses.order} identity=${addresses.identity}`;
  }

  listProducts(
    request: { pageSize: number; pageToken?: string; category?: string },
    options: CallOptions = {},
  ): Promise<ProductPage> {
    return call(options, async () => {
      const response = await this.catalog.listProducts(
        { page: { pageSize: request.pageSize, pageToken: request.pageToken ?? "" }, category: request.category ?? "" },
        { signal: options.signal },
      );
      return { products: response.products.map(toRef), nextPageToken: response.page?.nextPageToken ?? "" };
    });
  }

  searchProducts(query: string, pageSize: number, options: CallOptions = {}): Promise<ProductPage> {
    return call(options, async () => {
      const response = await this.catalog.searchProducts(
        { query, page: { pageSize, pageToken: "" } },
        { signal: options.signal },
      );
      return { products: response.products.map(toRef), nextPageToken: response.page?.nextPageToken ?? "" };
    });
  }

  /** GetProduct, then GetStock of its SKU: what the gateway's product page does. */
  viewProduct(product: ProductRef, options: CallOptions = {}): Promise<void> {
    return call(options, async () => {
      const found = toRef(
        (await this.catalog.getProduct({ productId: product.productId }, { signal: options.signal })).product,
      );
      await this.inventory.getStock({ skus: [found.sku] }, { signal: options.signal });
    });
  }

  register(customer: NewCustomer, options: CallOptions = {}): Promise<{ customerId: string }> {
    return call(options, async () => {
      const response = await this.identity.registerCustomer(customer, { signal: options.signal });
      if (!response.customer?.customerId) throw new ApiError("bad-response", "customer.customerId is missing");
      return { customerId: response.customer.customerId };
    });
  }

  login(email: string, password: string, options: CallOptions = {}): Promise<Session> {
    return call(options, async () => {
      const response = await this.identity.login({ email, password }, { signal: options.signal });
      if (!response.customer?.customerId) throw new ApiError("bad-response", "customer.customerId is missing");
      return {
        accessToken: response.accessToken,
        customerId: response.customer.customerId,
        expiresAt: response.expireTime?.getTime() ?? Number.POSITIVE_INFINITY,
      };
    });
  }

  placeOrder(
    session: Session,
    order: NewOrder,
    options: CallOptions = {},
  ): Promise<{ orderId: string; status: OrderStatusName }> {
    return call(options, async () => {
      const response = await this.order.placeOrder(
        {
          idempotencyKey: order.idempotencyKey,
          customerId: session.customerId,
          lines: order.lines,
          shippingAddress: {
            recipientName: order.recipientName,
            addressLines: ["1 Main St"],
            city: "Berlin",
            postalCode: "10115",
            countryCode: "DE",
            region: "",
          },
          card: {
            number: "4242424242424242",
            expMonth: 12,
            expYear: new Date().getUTCFullYear() + 3, // always a future expiry
            cvc: "123",
            holderName: order.recipientName,
          },
        },
        { signal: options.signal, metadata: { [metadataKeys.customerId]: session.customerId } },
      );
      if (!response.order?.orderId) throw new ApiError("bad-response", "order.orderId is missing");
      return { orderId: response.order.orderId, status: orderStatusToJSON(response.order.status) };
    });
  }

  getOrder(session: Session, orderId: string, options: CallOptions = {}): Promise<OrderStatusName> {
    return call(options, async () => {
      const response = await this.order.getOrder(
        { orderId },
        { signal: options.signal, metadata: { [metadataKeys.customerId]: session.customerId } },
      );
      if (!response.order) throw new ApiError("bad-response", "order is missing");
      return orderStatusToJSON(response.order.status);
    });
  }

  watchOrder(
    session: Session,
    orderId: string,
    onStatus: (status: OrderStatusName) => boolean,
    options: CallOptions = {},
  ): Promise<"stopped" | "ended"> {
    return call(options, async () => {
      const stream = this.order.watchOrder(
        { orderId },
        {
          timeoutMs: Number.POSITIVE_INFINITY,
          signal: options.signal,
          metadata: { [metadataKeys.customerId]: session.customerId },
        },
      );
      for await (const update of stream) {
        if (!update.order) throw new ApiError("bad-response", "order is missing");
        if (onStatus(orderStatusToJSON(update.order.status))) {
          stream.cancel();
          return "stopped";
        }
      }
      return "ended";
    });
  }

  close(): void {
    for (const client of [this.catalog, this.inventory, this.order, this.identity]) client.close();
  }
}
