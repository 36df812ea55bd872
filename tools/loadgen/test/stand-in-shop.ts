import { randomUUID } from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";

/** How the stand-in gateway behaves. */
export interface StandInOptions {
  /** Every Nth search answers 503 UNAVAILABLE. 0 = never. */
  searchFailEvery?: number;
  /** Delay of GET /v1/products/{id}. */
  productDelayMs?: number;
  /** PENDING → CONFIRMED (or REJECTED) after this long. */
  confirmDelayMs?: number;
  /** CONFIRMED → SHIPPED after this long. */
  shipDelayMs?: number;
  /** Orders containing one of these products are REJECTED. */
  rejectProducts?: string[];
}

interface Order {
  orderId: string;
  customerId: string;
  status: string;
  lines: Array<{ productId: string; quantity: number }>;
  listeners: Set<() => void>;
}

/** Twenty-five products in three categories. */
export const standInProducts = Array.from({ length: 25 }, (_, index) => {
  const category = ["coffee", "kitchen", "outdoor"][index % 3] as string;
  return {
    productId: `product-${String(index + 1).padStart(2, "0")}`,
    sku: `AG-${index + 1}`,
    name: `${category === "coffee" ? "Espresso" : category === "kitchen" ? "Skillet" : "Lantern"} model ${index + 1}`,
    category,
    price: { currencyCode: "EUR", units: 10 + index, nanos: 0 },
  };
});

const terminal = new Set(["ORDER_STATUS_SHIPPED", "ORDER_STATUS_REJECTED", "ORDER_STATUS_CANCELLED"]);

/**
 * A stand-in of the gateway's HTTP API (the routes loadgen uses, with the same JSON shapes, error
 * format and server-sent order events) that counts every request by route and status, so a test can
 * compare what the load generator reports with what the server saw.
 */
export class StandInShop {
  /** "METHOD route status" → count, e.g. "GET /v1/products/search 503". */
  readonly counts = new Map<string, number>();
  readonly orders = new Map<string, Order>();
  private readonly customers = new Map<string, { customerId: string; password: string; displayName: string }>();
  private readonly tokens = new Map<string, string>();
  private readonly keys = new Map<string, string>();
  private searches = 0;
  private readonly server: http.Server;
  private readonly timers = new Set<NodeJS.Timeout>();
  url = "";

  constructor(private readonly options: StandInOptions = {}) {
    this.server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        this.handle(request, response, Buffer.concat(chunks).toString("utf8")).catch((error: unknown) => {
          this.send(response, "?", 500, { error: { code: "INTERNAL", message: String(error), requestId: "x" } });
        });
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Requests seen for a route, optionally with one status. */
  count(route: string, status?: number): number {
    let total = 0;
    for (const [key, value] of this.counts) {
      const [method, path, code] = key.split(" ");
      if (`${method} ${path}` === route && (status === undefined || Number(code) === status)) total += value;
    }
    return total;
  }

  private later(ms: number, action: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, ms);
    this.timers.add(timer);
  }

  private send(response: http.ServerResponse, route: string, status: number, body: unknown): void {
    const key = `${route} ${status}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    const text = JSON.stringify(body);
    response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    response.end(text);
  }

  private error(response: http.ServerResponse, route: string, status: number, code: string, message: string): void {
    this.send(response, route, status, { error: { code, message, requestId: randomUUID() } });
  }

  private customerOf(request: http.IncomingMessage): string | undefined {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? "")?.[1];
    return token ? this.tokens.get(token) : undefined;
  }

  private setStatus(order: Order, status: string): void {
    order.status = status;
    for (const listener of order.listeners) listener();
  }

  private view(order: Order) {
    return { orderId: order.orderId, customerId: order.customerId, status: order.status, lines: order.lines };
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse, body: string): Promise<void> {
    const url = new URL(request.url ?? "/", "http://stand-in");
    const path = url.pathname;
    const method = request.method ?? "GET";
    const json = () => JSON.parse(body || "{}") as Record<string, unknown>;

    if (method === "POST" && path === "/v1/customers") {
      const route = "POST /v1/customers";
      const { email, password, displayName } = json() as { email?: string; password?: string; displayName?: string };
      if (!email?.includes("@") || !password || password.length < 10 || !displayName) {
        return this.error(
          response,
          route,
          400,
          "INVALID_ARGUMENT",
          "email, password (10+) and displayName are required",
        );
      }
      if (this.customers.has(email)) return this.error(response, route, 409, "ALREADY_EXISTS", "email taken");
      const customerId = randomUUID();
      this.customers.set(email, { customerId, password, displayName });
      return this.send(response, route, 201, { customer: { customerId, email, displayName } });
    }
    if (method === "POST" && path === "/v1/sessions") {
      const route = "POST /v1/sessions";
      const { email = "", password } = json() as { email?: string; password?: string };
      const customer = this.customers.get(email);
      if (!customer || customer.password !== password) {
        return this.error(response, route, 401, "UNAUTHENTICATED", "wrong email or password");
      }
      const token = `token-${randomUUID()}`;
      this.tokens.set(token, customer.customerId);
      return this.send(response, route, 200, {
        accessToken: token,
        tokenType: "Bearer",
        expireTime: new Date(Date.now() + 3_600_000).toISOString(),
        customer: { customerId: customer.customerId, email, displayName: customer.displayName },
      });
    }
    if (method === "GET" && path === "/v1/products") {
      const route = "GET /v1/products";
      const size = Number(url.searchParams.get("page.pageSize") || 20);
      const offset = Number(url.searchParams.get("page.pageToken") || 0);
      const category = url.searchParams.get("category");
      const matching = standInProducts.filter((product) => !category || product.category === category);
      const products = matching.slice(offset, offset + size);
      const next = offset + size < matching.length ? String(offset + size) : "";
      return this.send(response, route, 200, { products, page: { nextPageToken: next } });
    }
    if (method === "GET" && path === "/v1/products/search") {
      const route = "GET /v1/products/search";
      this.searches++;
      const every = this.options.searchFailEvery ?? 0;
      if (every > 0 && this.searches % every === 0) {
        return this.error(response, route, 503, "UNAVAILABLE", "catalog is failing; circuit open");
      }
      const query = (url.searchParams.get("query") ?? "").toLowerCase();
      const products = standInProducts.filter((product) => product.name.toLowerCase().includes(query));
      return this.send(response, route, 200, { products, page: { nextPageToken: "" } });
    }
    const productMatch = /^\/v1\/products\/([^/]+)$/.exec(path);
    if (method === "GET" && productMatch) {
      const route = "GET /v1/products/{productId}";
      await new Promise((resolve) => setTimeout(resolve, this.options.productDelayMs ?? 0));
      const product = standInProducts.find((candidate) => candidate.productId === productMatch[1]);
      if (!product) return this.error(response, route, 404, "NOT_FOUND", "no such product");
      return this.send(response, route, 200, { product, stock: { sku: product.sku, available: 10 } });
    }
    if (method === "POST" && path === "/v1/orders") {
      const route = "POST /v1/orders";
      const customerId = this.customerOf(request);
      if (!customerId) return this.error(response, route, 401, "UNAUTHENTICATED", "missing or bad token");
      const key = request.headers["idempotency-key"];
      if (typeof key !== "string" || key.length < 8) {
        return this.error(response, route, 400, "INVALID_ARGUMENT", "Idempotency-Key header required");
      }
      const { lines, shippingAddress, card } = json() as {
        lines?: Array<{ productId: string; quantity: number }>;
        shippingAddress?: { countryCode?: string };
        card?: { number?: string };
      };
      if (!lines?.length || shippingAddress?.countryCode !== "DE" || !card?.number) {
        return this.error(response, route, 400, "INVALID_ARGUMENT", "lines, shippingAddress and card are required");
      }
      const existing = this.keys.get(`${customerId}/${key}`);
      if (existing) return this.send(response, route, 202, { order: this.view(this.orders.get(existing) as Order) });
      const order: Order = {
        orderId: randomUUID(),
        customerId,
        status: "ORDER_STATUS_PENDING",
        lines,
        listeners: new Set(),
      };
      this.orders.set(order.orderId, order);
      this.keys.set(`${customerId}/${key}`, order.orderId);
      const rejected = lines.some((line) => this.options.rejectProducts?.includes(line.productId));
      this.later(this.options.confirmDelayMs ?? 20, () => {
        if (rejected) return this.setStatus(order, "ORDER_STATUS_REJECTED");
        this.setStatus(order, "ORDER_STATUS_CONFIRMED");
        this.later(this.options.shipDelayMs ?? 20, () => this.setStatus(order, "ORDER_STATUS_SHIPPED"));
      });
      return this.send(response, route, 202, { order: this.view(order) });
    }
    const orderMatch = /^\/v1\/orders\/([^/]+)(\/events)?$/.exec(path);
    if (method === "GET" && orderMatch) {
      const route = orderMatch[2] ? "GET /v1/orders/{orderId}/events" : "GET /v1/orders/{orderId}";
      const customerId = this.customerOf(request);
      if (!customerId) return this.error(response, route, 401, "UNAUTHENTICATED", "missing or bad token");
      const order = this.orders.get(orderMatch[1] ?? "");
      if (!order || order.customerId !== customerId)
        return this.error(response, route, 404, "NOT_FOUND", "no such order");
      if (!orderMatch[2]) return this.send(response, route, 200, { order: this.view(order) });
      const key = `${route} 200`;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      response.write(": stream of order status changes\n\n");
      const push = () => {
        // Split each event over two writes, as a proxy might.
        const event = `data: ${JSON.stringify({ order: this.view(order) })}\n\n`;
        response.write(event.slice(0, 10));
        response.write(event.slice(10));
        if (terminal.has(order.status)) {
          order.listeners.delete(push);
          response.end();
        }
      };
      order.listeners.add(push);
      response.on("close", () => order.listeners.delete(push));
      push();
      return;
    }
    this.error(response, `${method} ${path}`, 404, "NOT_FOUND", `no route ${method} ${path}`);
  }
}
