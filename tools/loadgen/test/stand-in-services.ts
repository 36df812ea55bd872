import { randomUUID } from "node:crypto";
import { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import type { Product } from "@agora/contracts/agora/catalog/v1/product";
import { IdentityServiceService } from "@agora/contracts/agora/identity/v1/identity_service";
import { InventoryServiceService } from "@agora/contracts/agora/inventory/v1/inventory_service";
import { type Order, OrderStatus } from "@agora/contracts/agora/order/v1/order";
import {
  type GetOrderRequest,
  OrderServiceService,
  type PlaceOrderRequest,
  type WatchOrderRequest,
  type WatchOrderResponse,
} from "@agora/contracts/agora/order/v1/order_service";
import * as grpc from "@grpc/grpc-js";
import { standInProducts } from "./stand-in-shop";

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;

function fail(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

const products: Product[] = standInProducts.map((product) => ({
  productId: product.productId,
  sku: product.sku,
  name: product.name,
  description: "",
  category: product.category,
  price: product.price,
  imageUrl: "",
}));

/**
 * Stand-ins of the catalog, inventory, identity and order services on one gRPC port, built on the
 * generated definitions, counting calls by "Method code". GetStock of AG-3, AG-6 … is NOT_FOUND;
 * orders go PENDING → CONFIRMED → SHIPPED, 30 ms apart; PlaceOrder checks the customer id.
 */
export class StandInServices {
  readonly counts = new Map<string, number>();
  readonly orders = new Map<string, Order>();
  private readonly customers = new Map<string, { customerId: string; password: string }>();
  private readonly server = new grpc.Server();
  address = "";

  private count(method: string, code: grpc.status): void {
    const key = `${method} ${grpc.status[code]}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  /** Calls of a method, optionally with one status name. */
  calls(method: string, code?: string): number {
    let total = 0;
    for (const [key, value] of this.counts) {
      const [name, status] = key.split(" ");
      if (name === method && (code === undefined || status === code)) total += value;
    }
    return total;
  }

  private unary<Req, Res>(method: string, handle: (request: Req, metadata: grpc.Metadata) => Res): Unary<Req, Res> {
    return (call, callback) => {
      try {
        const response = handle(call.request, call.metadata);
        this.count(method, grpc.status.OK);
        callback(null, response);
      } catch (error) {
        const code = (error as grpc.ServiceError).code ?? grpc.status.INTERNAL;
        this.count(method, code);
        callback(error as grpc.ServiceError);
      }
    };
  }

  async start(): Promise<string> {
    this.server.addService(CatalogServiceService, {
      listProducts: this.unary(
        "ListProducts",
        (request: { page?: { pageSize: number; pageToken: string }; category: string }) => {
          const matching = products.filter((product) => !request.category || product.category === request.category);
          const offset = Number(request.page?.pageToken || 0);
          const size = request.page?.pageSize || 20;
          return {
            products: matching.slice(offset, offset + size),
            page: { nextPageToken: offset + size < matching.length ? String(offset + size) : "" },
          };
        },
      ),
      searchProducts: this.unary("SearchProducts", (request: { query: string }) => ({
        products: products.filter((product) => product.name.toLowerCase().includes(request.query)),
        page: { nextPageToken: "" },
      })),
      getProduct: this.unary("GetProduct", (request: { productId: string }) => {
        const product = products.find((candidate) => candidate.productId === request.productId);
        if (!product) throw fail(grpc.status.NOT_FOUND, "no such product");
        return { product };
      }),
    } as unknown as grpc.UntypedServiceImplementation);
    this.server.addService(InventoryServiceService, {
      getStock: this.unary("GetStock", (request: { skus: string[] }) => {
        const unknown = request.skus.find((sku) => Number(sku.slice(3)) % 3 === 0);
        if (unknown) throw fail(grpc.status.NOT_FOUND, `sku ${unknown}: unknown`);
        return { levels: request.skus.map((sku) => ({ sku, onHand: 10, reserved: 0, available: 10 })) };
      }),
    } as unknown as grpc.UntypedServiceImplementation);
    this.server.addService(IdentityServiceService, {
      registerCustomer: this.unary(
        "RegisterCustomer",
        (request: { email: string; password: string; displayName: string }) => {
          if (this.customers.has(request.email)) throw fail(grpc.status.ALREADY_EXISTS, "email taken");
          const customerId = randomUUID();
          this.customers.set(request.email, { customerId, password: request.password });
          return { customer: { customerId, email: request.email, displayName: request.displayName } };
        },
      ),
      login: this.unary("Login", (request: { email: string; password: string }) => {
        const customer = this.customers.get(request.email);
        if (!customer || customer.password !== request.password) {
          throw fail(grpc.status.UNAUTHENTICATED, "wrong email or password");
        }
        return {
          accessToken: `token-${customer.customerId}`,
          tokenType: "Bearer",
          expireTime: new Date(Date.now() + 3_600_000),
          customer: { customerId: customer.customerId, email: request.email, displayName: "x" },
        };
      }),
    } as unknown as grpc.UntypedServiceImplementation);
    this.server.addService(OrderServiceService, {
      placeOrder: this.unary("PlaceOrder", (request: PlaceOrderRequest, metadata: grpc.Metadata) => {
        const known = [...this.customers.values()].some((customer) => customer.customerId === request.customerId);
        if (!known || metadata.get("x-agora-customer-id")[0] !== request.customerId) {
          throw fail(grpc.status.PERMISSION_DENIED, "customer_id does not match the caller");
        }
        if (request.lines.length === 0 || request.card?.number !== "4242424242424242") {
          throw fail(grpc.status.INVALID_ARGUMENT, "lines and card are required");
        }
        const order: Order = {
          orderId: randomUUID(),
          customerId: request.customerId,
          status: OrderStatus.ORDER_STATUS_PENDING,
          lines: [],
          paymentMethodSummary: "",
          paymentId: "",
          statusReason: "",
          history: [],
        };
        this.orders.set(order.orderId, order);
        setTimeout(() => {
          order.status = OrderStatus.ORDER_STATUS_CONFIRMED;
          setTimeout(() => {
            order.status = OrderStatus.ORDER_STATUS_SHIPPED;
          }, 30);
        }, 30);
        return { order };
      }),
      getOrder: this.unary("GetOrder", (request: GetOrderRequest) => {
        const order = this.orders.get(request.orderId);
        if (!order) throw fail(grpc.status.NOT_FOUND, "no such order");
        return { order };
      }),
      watchOrder: (call: grpc.ServerWritableStream<WatchOrderRequest, WatchOrderResponse>) => {
        const order = this.orders.get(call.request.orderId);
        if (!order) {
          this.count("WatchOrder", grpc.status.NOT_FOUND);
          call.emit("error", fail(grpc.status.NOT_FOUND, "no such order"));
          return;
        }
        let last: OrderStatus | undefined;
        const timer = setInterval(() => {
          if (order.status !== last) {
            last = order.status;
            call.write({ order: { ...order } });
          }
          if (order.status === OrderStatus.ORDER_STATUS_SHIPPED) {
            clearInterval(timer);
            this.count("WatchOrder", grpc.status.OK);
            call.end();
          }
        }, 5);
        call.on("cancelled", () => clearInterval(timer));
      },
    } as unknown as grpc.UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    this.address = `127.0.0.1:${port}`;
    return this.address;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }
}
