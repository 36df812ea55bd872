import {
  type GetStockRequest,
  type GetStockResponse,
  InventoryServiceService,
} from "@agora/contracts/agora/inventory/v1/inventory_service";
import { OrderStatus } from "@agora/contracts/agora/order/v1/order";
import {
  createTestDatabase,
  freePort,
  type ServiceProcess,
  type StartedService,
  spawnServiceProcess,
  startService,
  startTestNats,
  type TestDatabase,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import * as grpc from "@grpc/grpc-js";
import { gatewayService } from "../src/main";
import type { OpenApiObject } from "../src/openapi";
import { registerJwksStandIn, type StandInServer, startGrpcServer } from "./support/grpc-stand-ins";
import { OpenApiSchemas } from "./support/openapi-validator";
import { type OrderStandInLog, registerOrderStandIn } from "./support/order-stand-in";
import { createSigningKey, type SigningKey, signToken } from "./support/tokens";

// The gateway on Agora's real contracts, in front of the real catalog service (its own process, on a
// real Postgres database and NATS server, which it publishes its events to). Inventory, order and identity are stand-ins: those services are written
// concurrently, and these tests are about the gateway. The order stand-in enforces ownership from
// the x-agora-customer-id metadata exactly as the real order service must; the end-to-end check
// against the real services comes with them.

interface SseEvent {
  event: string;
  data: unknown;
}

interface SseRead {
  events: SseEvent[];
  comments: string[];
  ended: boolean;
}

/** Reads server-sent events until `enough` says so or the stream ends. */
async function readEvents(
  response: Response,
  enough: (read: SseRead) => boolean,
  timeoutMs = 10_000,
): Promise<SseRead> {
  const reader = response.body?.getReader();
  if (!reader) throw new Error("no body");
  const decoder = new TextDecoder();
  const read: SseRead = { events: [], comments: [], ended: false };
  let buffer = "";
  const deadline = Date.now() + timeoutMs;
  while (!enough(read)) {
    if (Date.now() > deadline) throw new Error(`no more events within ${timeoutMs} ms: ${JSON.stringify(read)}`);
    const chunk = await reader.read();
    if (chunk.done) {
      read.ended = true;
      break;
    }
    buffer += decoder.decode(chunk.value, { stream: true });
    let end = buffer.indexOf("\n\n");
    while (end >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf("\n\n");
      const lines = frame.split("\n");
      if (lines.every((line) => line.startsWith(":"))) {
        read.comments.push(...lines);
        continue;
      }
      const event = lines.find((line) => line.startsWith("event: "))?.slice(7) ?? "message";
      const data = lines.find((line) => line.startsWith("data: "))?.slice(6) ?? "null";
      read.events.push({ event, data: JSON.parse(data) });
    }
  }
  return read;
}

const statusesOf = (read: SseRead) =>
  read.events
    .filter((item) => item.event === "message")
    .map((item) => (item.data as { order: { status: string } }).order.status);

describe("the gateway in front of Agora's services", () => {
  let database: TestDatabase;
  let nats: TestNats;
  let catalog: ServiceProcess;
  let inventory: StandInServer;
  let inventoryPort: number;
  let inventoryCalls: number;
  let orders: StandInServer;
  let orderLog: OrderStandInLog;
  let identity: StandInServer;
  let key: SigningKey;
  let gateway: StartedService<unknown, Record<string, never>>;
  let url: string;
  let schemas: OpenApiSchemas;
  let tokenA: string;
  let tokenB: string;

  const stock: Record<string, number> = { "AG-COF-001": 12, "AG-COF-002": 0 };

  async function startInventory(): Promise<StandInServer> {
    return startGrpcServer(
      (server) =>
        server.addService(InventoryServiceService, {
          getStock: (
            call: grpc.ServerUnaryCall<GetStockRequest, GetStockResponse>,
            callback: grpc.sendUnaryData<GetStockResponse>,
          ) => {
            inventoryCalls++;
            const missing = call.request.skus.filter((sku) => !(sku in stock));
            if (missing.length > 0)
              return callback({ code: grpc.status.NOT_FOUND, details: `unknown SKUs: ${missing.join(", ")}` });
            callback(null, {
              levels: call.request.skus.map((sku) => ({
                sku,
                onHand: (stock[sku] ?? 0) + 1,
                reserved: 1,
                available: stock[sku] ?? 0,
                updateTime: new Date("2026-11-23T08:00:00Z"),
              })),
            });
          },
        } as unknown as grpc.UntypedServiceImplementation),
      inventoryPort,
    );
  }

  beforeAll(async () => {
    database = await createTestDatabase("gateway_catalog");
    nats = await startTestNats();
    catalog = await spawnServiceProcess(require.resolve("@agora/catalog"), {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      NATS_SUBJECT_PREFIX: nats.subjectPrefix,
      SEED_DEMO_DATA: "true",
    });
    inventoryCalls = 0;
    inventoryPort = await freePort();
    inventory = await startInventory();
    let log: OrderStandInLog | undefined;
    orders = await startGrpcServer((server) => {
      log = registerOrderStandIn(
        server,
        [
          {
            orderId: "o-a",
            customerId: "customer-a",
            statuses: [OrderStatus.ORDER_STATUS_PENDING, OrderStatus.ORDER_STATUS_CONFIRMED],
          },
          {
            orderId: "o-rejected",
            customerId: "customer-a",
            statuses: [OrderStatus.ORDER_STATUS_PENDING, OrderStatus.ORDER_STATUS_REJECTED],
          },
          {
            orderId: "o-broken",
            customerId: "customer-a",
            statuses: [OrderStatus.ORDER_STATUS_PENDING],
            failWith: grpc.status.UNAVAILABLE,
          },
          { orderId: "o-b", customerId: "customer-b", statuses: [OrderStatus.ORDER_STATUS_CONFIRMED] },
        ],
        150,
      );
    });
    if (!log) throw new Error("order stand-in not registered");
    orderLog = log;
    key = await createSigningKey("agora-key-1");
    identity = await startGrpcServer((server) => registerJwksStandIn(server, () => [key.published]));
    const port = await freePort();
    gateway = (await startService(gatewayService, {
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: String(port),
      CATALOG_ADDR: catalog.address,
      INVENTORY_ADDR: `127.0.0.1:${inventoryPort}`,
      ORDER_ADDR: orders.address,
      IDENTITY_ADDR: identity.address,
      SSE_HEARTBEAT_MS: "100",
      STOCK_TIMEOUT_MS: "500",
      RATE_LIMIT_MAX: "10000",
      // The inventory outage below makes the kit log every fallback; keep test output readable.
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
    })) as unknown as StartedService<unknown, Record<string, never>>;
    url = `http://127.0.0.1:${port}`;
    schemas = new OpenApiSchemas((await (await fetch(`${url}/openapi.json`)).json()) as OpenApiObject);
    tokenA = await signToken(key, { sub: "customer-a" });
    tokenB = await signToken(key, { sub: "customer-b" });
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await catalog?.stop();
    await inventory?.stop();
    await orders?.stop();
    await identity?.stop();
    await database?.drop();
    await nats?.close();
  });

  const auth = (token: string) => ({ authorization: `Bearer ${token}` });

  it("lists products from the real catalog, matching the documented schema", async () => {
    const response = await fetch(`${url}/v1/products?page.pageSize=3&category=coffee`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { products: Array<{ category: string; price: { units: string } }> };
    expect(body.products).toHaveLength(3);
    for (const product of body.products) expect(product.category).toBe("coffee");
    expect(typeof body.products[0]?.price.units).toBe("string");
    expect(schemas.errors("agora.catalog.v1.ListProductsResponse", body)).toBe("");
  });

  it("passes the catalog's own validation errors and NOT_FOUND through as 400 and 404", async () => {
    const invalid = await fetch(`${url}/v1/products/Not%20An%20Id`);
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: { message: string } }).error.message).toMatch(/^product_id: /);
    const missing = await fetch(`${url}/v1/products/no-such-product`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
  });

  it("composes a product with its live stock: in stock, out of stock", async () => {
    const callsBefore = inventoryCalls;
    const response = await fetch(`${url}/v1/products/espresso-machine`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { product: { productId: string; sku: string }; stock: unknown };
    expect(body.product).toMatchObject({ productId: "espresso-machine", sku: "AG-COF-001" });
    expect(body.stock).toEqual({ status: "IN_STOCK", available: 12, updateTime: "2026-11-23T08:00:00Z" });
    expect(schemas.errors("ProductWithStock", body)).toBe("");
    // Second time the SKU is known and both lookups run in parallel; the answer is the same.
    expect(((await (await fetch(`${url}/v1/products/espresso-machine`)).json()) as { stock: unknown }).stock).toEqual(
      body.stock,
    );

    expect(inventoryCalls - callsBefore).toBe(2);

    const grinder = (await (await fetch(`${url}/v1/products/burr-grinder`)).json()) as { stock: unknown };
    expect(grinder.stock).toEqual({ status: "OUT_OF_STOCK", available: 0, updateTime: "2026-11-23T08:00:00Z" });
  });

  it("still serves the product with stock UNKNOWN when inventory is stopped, opens the circuit, and recovers", async () => {
    await inventory.stop();
    for (let i = 0; i < 6; i++) {
      const started = Date.now();
      const response = await fetch(`${url}/v1/products/espresso-machine`);
      expect(response.status).toBe(200);
      const body = (await response.json()) as { product: { productId: string }; stock: unknown };
      expect(body.product.productId).toBe("espresso-machine");
      expect(body.stock).toEqual({ status: "UNKNOWN" });
      expect(schemas.errors("ProductWithStock", body)).toBe("");
      expect(Date.now() - started).toBeLessThan(2_000);
    }
    const metrics = await (await fetch(gateway.metricsUrl)).text();
    expect(metrics).toMatch(/agora_circuit_breaker_state\{[^}]*downstream="inventory"[^}]*\} 1/);
    // With the circuit open, the stock route itself fails fast with a clear 503.
    const direct = await fetch(`${url}/v1/stock?skus=AG-COF-001`);
    expect(direct.status).toBe(503);
    expect(await direct.json()).toMatchObject({
      error: { code: "UNAVAILABLE", message: expect.stringMatching(/^inventory /) },
    });

    inventory = await startInventory();
    await waitUntil(
      async () => {
        const body = (await (await fetch(`${url}/v1/products/espresso-machine`)).json()) as {
          stock: { status: string };
        };
        return body.stock.status === "IN_STOCK";
      },
      15_000,
      "stock known again after inventory is back",
    );
  }, 30_000);

  it("lets a customer read their own order and answers 404 for another customer's order", async () => {
    const own = await fetch(`${url}/v1/orders/o-a`, { headers: auth(tokenA) });
    expect(own.status).toBe(200);
    const body = await own.json();
    expect(body).toMatchObject({ order: { orderId: "o-a", customerId: "customer-a", status: "ORDER_STATUS_PENDING" } });
    expect(schemas.errors("agora.order.v1.GetOrderResponse", body)).toBe("");

    const other = await fetch(`${url}/v1/orders/o-a`, { headers: auth(tokenB) });
    expect(other.status).toBe(404);
    const error = (await other.json()) as { error: { code: string; message: string } };
    expect(error.error).toMatchObject({ code: "NOT_FOUND", message: "order o-a not found" });
    expect(JSON.stringify(error)).not.toContain("customer-a");
    expect((await fetch(`${url}/v1/orders/o-a`)).status).toBe(401);
  });

  it("streams an order's transitions to CONFIRMED as server-sent events, and cancels the gRPC stream when the client leaves", async () => {
    const controller = new AbortController();
    const response = await fetch(`${url}/v1/orders/o-a/events`, { headers: auth(tokenA), signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(response.headers.get("x-request-id")).toBeTruthy();
    const cancelledBefore = orderLog.watchesCancelled;
    const read = await readEvents(
      response,
      (soFar) => statusesOf(soFar).includes("ORDER_STATUS_CONFIRMED") && soFar.comments.includes(": heartbeat"),
    );
    expect(statusesOf(read)).toEqual(["ORDER_STATUS_PENDING", "ORDER_STATUS_CONFIRMED"]);
    expect(read.events.every((item) => item.event === "message")).toBe(true);
    expect(schemas.errors("agora.order.v1.WatchOrderResponse", read.events[1]?.data)).toBe("");
    controller.abort();
    await waitUntil(() => orderLog.watchesCancelled > cancelledBefore, 5_000, "WatchOrder cancelled downstream");
  });

  it("ends the event stream when the order reaches a final status", async () => {
    const response = await fetch(`${url}/v1/orders/o-rejected/events`, { headers: auth(tokenA) });
    const read = await readEvents(response, () => false);
    expect(read.ended).toBe(true);
    expect(statusesOf(read)).toEqual(["ORDER_STATUS_PENDING", "ORDER_STATUS_REJECTED"]);
    expect(read.events.at(-1)).toEqual({ event: "end", data: {} });
  });

  it("sends an error event with the mapped error when the stream fails midway", async () => {
    const response = await fetch(`${url}/v1/orders/o-broken/events`, {
      headers: { ...auth(tokenA), "x-request-id": "watch-broken-1" },
    });
    const read = await readEvents(response, () => false);
    expect(read.ended).toBe(true);
    expect(statusesOf(read)).toEqual(["ORDER_STATUS_PENDING"]);
    expect(read.events.at(-1)).toEqual({
      event: "error",
      data: {
        error: {
          code: "UNAVAILABLE",
          message: "order is unavailable right now; retry later",
          requestId: "watch-broken-1",
        },
      },
    });
  });

  it("answers a watch of another customer's order with a plain 404, not a stream", async () => {
    const response = await fetch(`${url}/v1/orders/o-b/events`, { headers: auth(tokenA) });
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
  });

  describe("placing an order", () => {
    const order = {
      lines: [{ productId: "espresso-machine", quantity: 1 }],
      shippingAddress: {
        recipientName: "Ada",
        addressLines: ["1 Main St"],
        city: "Berlin",
        postalCode: "10115",
        countryCode: "DE",
      },
      card: { number: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123", holderName: "Ada" },
    };
    const place = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${url}/v1/orders`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth(tokenA), ...headers },
        body,
      });

    it("maps Idempotency-Key to idempotency_key, the token's customer to customer_id, and passes the request id", async () => {
      const response = await place(JSON.stringify({ ...order, customerId: "customer-b" }), {
        "idempotency-key": "order-key-0001",
        "x-request-id": "place-1",
      });
      expect(response.status).toBe(202);
      expect(await response.json()).toMatchObject({ order: { orderId: "o-new", status: "ORDER_STATUS_PENDING" } });
      const seen = orderLog.placed.at(-1);
      expect(seen?.request).toMatchObject({
        idempotencyKey: "order-key-0001",
        customerId: "customer-a",
        lines: [{ productId: "espresso-machine", quantity: 1 }],
      });
      expect(seen?.metadata).toEqual({ customerId: "customer-a", requestId: "place-1", correlationId: "place-1" });
    });

    it("answers 400 for malformed JSON, wrong types (naming the field) and a key that contradicts the header", async () => {
      const before = orderLog.placed.length;
      const malformed = await place('{"lines": [');
      expect(malformed.status).toBe(400);
      const wrongType = await place(
        JSON.stringify({ ...order, lines: [{ productId: "espresso-machine", quantity: "many" }] }),
      );
      expect(wrongType.status).toBe(400);
      expect(((await wrongType.json()) as { error: { message: string } }).error.message).toBe(
        'lines[0].quantity: expected an integer (int32), got "many"',
      );
      const unknown = await place(JSON.stringify({ ...order, coupon: "FREE" }));
      expect(unknown.status).toBe(400);
      expect(((await unknown.json()) as { error: { message: string } }).error.message).toMatch(
        /^coupon: unknown field/,
      );
      const contradicting = await place(JSON.stringify({ ...order, idempotencyKey: "order-key-A" }), {
        "idempotency-key": "order-key-B",
      });
      expect(contradicting.status).toBe(400);
      expect(orderLog.placed.length).toBe(before);
    });
  });
});
