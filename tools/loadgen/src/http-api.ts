import * as http from "node:http";
import * as https from "node:https";
import { AbortedFlowError, ApiError } from "./errors";
import type {
  CallOptions,
  NewCustomer,
  NewOrder,
  OrderStatusName,
  ProductPage,
  ProductRef,
  Session,
  ShopApi,
} from "./shop-api";
import { SseParser } from "./sse";

/** Settings of the HTTP client. */
export interface HttpApiOptions {
  /** Base URL of the gateway, e.g. http://127.0.0.1:8080. */
  target: string;
  /** Deadline of one request (for a stream: until its response headers arrive). */
  timeoutMs: number;
  /** Most sockets open to the gateway at once (keep-alive). */
  connections: number;
}

interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

type JsonObject = Record<string, unknown>;

function asObject(value: unknown): JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as JsonObject) : {};
}

function requireString(value: unknown, what: string): string {
  if (typeof value !== "string" || value === "") throw new ApiError("bad-response", `${what} is missing`);
  return value;
}

/** An {@link ApiError} for an HTTP error response, using the gateway's `{"error":{code,message}}` when present. */
export function httpError(status: number, text: string): ApiError {
  let detail = text.trim().slice(0, 200);
  try {
    const error = asObject(asObject(JSON.parse(text)).error);
    if (typeof error.message === "string") {
      detail = typeof error.code === "string" ? `${error.code}: ${error.message}` : error.message;
    }
  } catch {
    // not JSON: keep the text
  }
  return new ApiError(`http:${status}`, `HTTP ${status}${detail ? ` ${detail}` : ""}`);
}

/** The {@link ApiError} for a failure below HTTP (connection refused, reset, DNS …). */
export function networkError(error: unknown): Error {
  if (error instanceof ApiError || error instanceof AbortedFlowError) return error;
  const code = (error as { code?: unknown }).code;
  const name = typeof code === "string" ? code : error instanceof Error ? error.name : "unknown";
  return new ApiError(`net:${name}`, error instanceof Error ? error.message || name : String(error));
}

function toProduct(value: unknown): ProductRef {
  const product = asObject(value);
  return {
    productId: requireString(product.productId, "product.productId"),
    sku: typeof product.sku === "string" ? product.sku : "",
    name: typeof product.name === "string" ? product.name : "",
    category: typeof product.category === "string" ? product.category : "",
  };
}

function toPage(body: unknown): ProductPage {
  const object = asObject(body);
  const products = Array.isArray(object.products) ? object.products.map(toProduct) : [];
  const token = asObject(object.page).nextPageToken;
  return { products, nextPageToken: typeof token === "string" ? token : "" };
}

function orderStatus(body: unknown): OrderStatusName {
  return requireString(asObject(asObject(body).order).status, "order.status");
}

/** The shop through the gateway's HTTP/JSON API (proto3 JSON, camelCase), over keep-alive connections. */
export class HttpShopApi implements ShopApi {
  readonly target: string;
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;

  constructor(private readonly options: HttpApiOptions) {
    this.base = new URL(options.target);
    if (this.base.protocol !== "http:" && this.base.protocol !== "https:") {
      throw new Error(`--target must be an http:// or https:// URL, got ${options.target}`);
    }
    this.target = this.base.origin;
    this.transport = this.base.protocol === "https:" ? https : http;
    const agentOptions = { keepAlive: true, maxSockets: options.connections, scheduling: "lifo" as const };
    this.agent = this.base.protocol === "https:" ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  /**
   * Starts a request bounded by the timeout; `onResponse` gets the response once its headers arrived
   * and settles the promise (a stream stops the timer once it is established).
   */
  private send(
    method: string,
    path: string,
    options: RequestOptions,
    accept: string,
    onResponse: (
      response: http.IncomingMessage,
      settle: (error?: Error, value?: unknown) => void,
      stopTimer: () => void,
    ) => void,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) return reject(new AbortedFlowError());
      const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body));
      const headers: Record<string, string | number> = { accept, ...options.headers };
      if (payload) {
        headers["content-type"] = "application/json";
        headers["content-length"] = payload.length;
      }
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      const settle = (error?: Error, value?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        if (error) {
          request.destroy();
          reject(error);
        } else resolve(value);
      };
      const request = this.transport.request(
        new URL(path, this.base),
        { method, headers, agent: this.agent },
        (response) => {
          response.on("error", (error) => settle(networkError(error)));
          response.on("close", () => {
            if (!response.complete) settle(new ApiError("net:ECONNRESET", "the connection closed mid-response"));
          });
          onResponse(response, settle, () => clearTimeout(timer));
        },
      );
      timer = setTimeout(
        () => settle(new ApiError("timeout", `no response to ${method} ${path} within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
      const onAbort = () => settle(new AbortedFlowError());
      options.signal?.addEventListener("abort", onAbort, { once: true });
      request.on("error", (error) => settle(networkError(error)));
      request.end(payload);
    });
  }

  /** One JSON request; resolves with the parsed body of a 2xx response, rejects with an ApiError otherwise. */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<unknown> {
    return this.send(method, path, options, "application/json", (response, settle) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        const status = response.statusCode ?? 0;
        if (status < 200 || status > 299) return settle(httpError(status, text));
        if (text === "") return settle(undefined, {});
        try {
          settle(undefined, JSON.parse(text));
        } catch {
          settle(new ApiError("bad-response", `HTTP ${status} with a body that is not JSON: ${text.slice(0, 100)}`));
        }
      });
    });
  }

  /**
   * Reads a server-sent event stream, handing each event's data to `onData` until it returns true
   * ("stopped") or the server ends the stream ("ended").
   */
  stream(path: string, onData: (data: string) => boolean, options: RequestOptions = {}): Promise<"stopped" | "ended"> {
    return this.send("GET", path, options, "text/event-stream", (response, settle, stopTimer) => {
      const status = response.statusCode ?? 0;
      if (status < 200 || status > 299) {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => settle(httpError(status, Buffer.concat(chunks).toString("utf8"))));
        return;
      }
      // The stream lasts as long as the order takes: only the headers were bound by the timeout.
      stopTimer();
      const parser = new SseParser();
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        try {
          for (const event of parser.push(chunk)) {
            if (onData(event.data)) {
              // Stop reading: the socket is closed rather than returned to the pool mid-stream.
              settle(undefined, "stopped");
              response.destroy();
              return;
            }
          }
        } catch (error) {
          settle(error instanceof Error ? error : new Error(String(error)));
        }
      });
      response.on("end", () => {
        parser.end();
        settle(undefined, "ended");
      });
    }) as Promise<"stopped" | "ended">;
  }

  async listProducts(
    request: { pageSize: number; pageToken?: string; category?: string },
    options: CallOptions = {},
  ): Promise<ProductPage> {
    const query = new URLSearchParams({ "page.pageSize": String(request.pageSize) });
    if (request.pageToken) query.set("page.pageToken", request.pageToken);
    if (request.category) query.set("category", request.category);
    return toPage(await this.request("GET", `/v1/products?${query}`, options));
  }

  async searchProducts(search: string, pageSize: number, options: CallOptions = {}): Promise<ProductPage> {
    const query = new URLSearchParams({ query: search, "page.pageSize": String(pageSize) });
    return toPage(await this.request("GET", `/v1/products/search?${query}`, options));
  }

  async viewProduct(product: ProductRef, options: CallOptions = {}): Promise<void> {
    await this.request("GET", `/v1/products/${encodeURIComponent(product.productId)}`, options);
  }

  async register(customer: NewCustomer, options: CallOptions = {}): Promise<{ customerId: string }> {
    const body = await this.request("POST", "/v1/customers", { ...options, body: customer });
    return { customerId: requireString(asObject(asObject(body).customer).customerId, "customer.customerId") };
  }

  async login(email: string, password: string, options: CallOptions = {}): Promise<Session> {
    const body = asObject(await this.request("POST", "/v1/sessions", { ...options, body: { email, password } }));
    const expires = typeof body.expireTime === "string" ? Date.parse(body.expireTime) : Number.NaN;
    return {
      accessToken: requireString(body.accessToken, "accessToken"),
      customerId:
        typeof asObject(body.customer).customerId === "string" ? String(asObject(body.customer).customerId) : "",
      expiresAt: Number.isFinite(expires) ? expires : Number.POSITIVE_INFINITY,
    };
  }

  async placeOrder(
    session: Session,
    order: NewOrder,
    options: CallOptions = {},
  ): Promise<{ orderId: string; status: OrderStatusName }> {
    const body = await this.request("POST", "/v1/orders", {
      ...options,
      headers: { authorization: `Bearer ${session.accessToken}`, "idempotency-key": order.idempotencyKey },
      body: {
        lines: order.lines,
        shippingAddress: {
          recipientName: order.recipientName,
          addressLines: ["1 Main St"],
          city: "Berlin",
          postalCode: "10115",
          countryCode: "DE",
        },
        card: {
          number: "4242424242424242",
          expMonth: 12,
          expYear: new Date().getUTCFullYear() + 3, // always a future expiry
          cvc: "123",
          holderName: order.recipientName,
        },
      },
    });
    return {
      orderId: requireString(asObject(asObject(body).order).orderId, "order.orderId"),
      status: orderStatus(body),
    };
  }

  async getOrder(session: Session, orderId: string, options: CallOptions = {}): Promise<OrderStatusName> {
    const body = await this.request("GET", `/v1/orders/${encodeURIComponent(orderId)}`, {
      ...options,
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    return orderStatus(body);
  }

  watchOrder(
    session: Session,
    orderId: string,
    onStatus: (status: OrderStatusName) => boolean,
    options: CallOptions = {},
  ): Promise<"stopped" | "ended"> {
    return this.stream(
      `/v1/orders/${encodeURIComponent(orderId)}/events`,
      (data) => {
        let parsed: JsonObject;
        try {
          parsed = asObject(JSON.parse(data));
        } catch {
          throw new ApiError("bad-response", `order event is not JSON: ${data.slice(0, 100)}`);
        }
        if (parsed.error !== undefined) {
          const error = asObject(parsed.error);
          throw new ApiError(`stream:${String(error.code ?? "error")}`, String(error.message ?? data));
        }
        return onStatus(orderStatus(parsed));
      },
      { ...options, headers: { authorization: `Bearer ${session.accessToken}` } },
    );
  }

  close(): void {
    this.agent.destroy();
  }
}
