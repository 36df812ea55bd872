import { descriptorSetBytes } from "@agora/contracts";
import { fromBinary, type JsonObject, toJson } from "@bufbuild/protobuf";
import { registryFromDescriptorSet } from "../src/descriptors";
import { HttpError } from "../src/http-errors";
import { parsePathTemplate } from "../src/path-template";
import { encodeRequest, type HttpRequestParts, requestJsonOf } from "../src/request-mapping";
import { type HttpRoute, routesFromRegistry } from "../src/route-table";

const registry = registryFromDescriptorSet(descriptorSetBytes());
const routes = routesFromRegistry(registry);

function route(method: string, template: string): HttpRoute {
  const found = routes.find((candidate) => candidate.method === method && candidate.path.template === template);
  if (!found) throw new Error(`no route ${method} ${template}`);
  return found;
}

/** Maps an HTTP request to the RPC request, encodes it, and decodes it back to JSON (what the service gets). */
function transcode(target: HttpRoute, parts: Partial<HttpRequestParts>): JsonObject {
  const json = requestJsonOf(target, { params: {}, query: {}, body: undefined, ...parts });
  const bytes = encodeRequest(target.rpc.input, json, registry);
  return toJson(target.rpc.input, fromBinary(target.rpc.input, bytes), { registry }) as JsonObject;
}

function rejection(run: () => unknown): HttpError {
  try {
    run();
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error("expected a 400");
}

describe("routes from the annotations in proto/", () => {
  it("finds every annotated RPC with its method, path, access and status", () => {
    const table = routes.map(
      (item) => `${item.method} ${item.path.template} ${item.access} ${item.successStatus} ${item.grpcPath}`,
    );
    expect(table).toEqual(
      expect.arrayContaining([
        "GET /v1/products public 200 /agora.catalog.v1.CatalogService/ListProducts",
        "POST /v1/admin/products admin 201 /agora.catalog.v1.CatalogService/CreateProduct",
        "POST /v1/orders customer 202 /agora.order.v1.OrderService/PlaceOrder",
        "GET /v1/orders/{order_id} customer 200 /agora.order.v1.OrderService/GetOrder",
        "GET /v1/orders/{order_id}/events customer 200 /agora.order.v1.OrderService/WatchOrder",
        "GET /v1/history/orders customer 200 /agora.orderhistory.v1.OrderHistoryService/ListCustomerOrders",
        "POST /v1/sessions public 200 /agora.identity.v1.IdentityService/Login",
      ]),
    );
    expect(routes.some((item) => item.grpcPath.endsWith("/GetProduct"))).toBe(false);
    expect(routes.some((item) => item.grpcPath.endsWith("/GetJwks"))).toBe(false);
    const placeOrder = route("POST", "/v1/orders");
    expect(placeOrder.customerIdField?.name).toBe("customer_id");
    expect(placeOrder.idempotencyKeyField?.name).toBe("idempotency_key");
    expect(placeOrder.summary).toMatch(/^Accepts an order/);
    expect(route("GET", "/v1/orders/{order_id}/events").serverStreaming).toBe(true);
  });

  it("parses path templates and refuses ones it cannot serve", () => {
    const template = parsePathTemplate("/v1/orders/{order_id}/cancel");
    expect(template.fastifyPath).toBe("/v1/orders/:order_id/cancel");
    expect(template.pattern.test("/v1/orders/abc/cancel")).toBe(true);
    expect(template.pattern.test("/v1/orders/abc/def/cancel")).toBe(false);
    expect(parsePathTemplate("/v1/x/{page.page_size}").fastifyPath).toBe("/v1/x/:page__page_size");
    expect(() => parsePathTemplate("v1/x")).toThrow(/must start with/);
    expect(() => parsePathTemplate("/v1/{a}/{a}")).toThrow(/twice/);
    expect(() => parsePathTemplate("/v1/x{a}")).toThrow(/neither a literal/);
    expect(() => parsePathTemplate("/v1/{a=*}")).toThrow(/must name a field/);
  });
});

describe("HTTP request → RPC request", () => {
  it("fills GET requests from the query string: nested fields by JSON or proto name, lists by repetition", () => {
    const list = route("GET", "/v1/products");
    expect(transcode(list, { query: { "page.pageSize": "3", category: "coffee" } })).toEqual({
      page: { pageSize: 3 },
      category: "coffee",
    });
    expect(transcode(list, { query: { "page.page_size": "5", "page.pageToken": "t1" } })).toEqual({
      page: { pageSize: 5, pageToken: "t1" },
    });
    expect(transcode(route("GET", "/v1/stock"), { query: { skus: ["AG-1", "AG-2"] } })).toEqual({
      skus: ["AG-1", "AG-2"],
    });
    expect(transcode(route("GET", "/v1/stock"), { query: { skus: "AG-1" } })).toEqual({ skus: ["AG-1"] });
  });

  it("names the query parameter that does not fit", () => {
    const list = route("GET", "/v1/products");
    expect(rejection(() => transcode(list, { query: { colour: "red" } })).message).toMatch(
      /^colour: unknown query parameter/,
    );
    expect(rejection(() => transcode(list, { query: { "page.size": "3" } })).message).toMatch(/^page\.size: unknown/);
    expect(rejection(() => transcode(list, { query: { "page.pageSize": "many" } })).message).toBe(
      'page.pageSize: expected an integer (int32), got "many"',
    );
    expect(rejection(() => transcode(list, { query: { page: "3" } })).message).toMatch(/^page: is a message/);
    expect(rejection(() => transcode(list, { query: { category: ["a", "b"] } })).message).toMatch(/given 2 times/);
  });

  it("fills path variables and rejects a body that contradicts them", () => {
    const cancel = route("POST", "/v1/orders/{order_id}/cancel");
    expect(transcode(cancel, { params: { order_id: "o-1" }, body: { reason: "changed my mind" } })).toEqual({
      orderId: "o-1",
      reason: "changed my mind",
    });
    expect(transcode(cancel, { params: { order_id: "o-1" }, body: { orderId: "o-1" } })).toEqual({ orderId: "o-1" });
    expect(
      rejection(() => transcode(cancel, { params: { order_id: "o-1" }, body: { order_id: "o-2" } })).message,
    ).toMatch(/^orderId: the path says "o-1"/);
  });

  it("maps the body with proto3 JSON names and names wrong types and unknown fields", () => {
    const place = route("POST", "/v1/orders");
    const body = {
      lines: [{ productId: "espresso-machine", quantity: 2 }],
      shippingAddress: { recipientName: "Ada", addressLines: ["1 Main St"], city: "Berlin", countryCode: "DE" },
      card: { number: "4242424242424242", expMonth: 12, expYear: 2030, cvc: "123" },
    };
    expect(transcode(place, { body, customerId: "c-1" })).toMatchObject({ customerId: "c-1", lines: body.lines });
    // proto names are accepted too
    expect(
      transcode(place, { body: { lines: [{ product_id: "x", quantity: "3" }] }, customerId: "c-1" }),
    ).toMatchObject({
      lines: [{ productId: "x", quantity: 3 }],
    });
    const bad = (value: unknown) => rejection(() => transcode(place, { body: value, customerId: "c-1" }));
    expect(bad({ lines: [{ productId: "x", quantity: "many" }] }).message).toBe(
      'lines[0].quantity: expected an integer (int32), got "many"',
    );
    expect(bad({ lines: [{ productId: "x", quantity: 1.5 }] }).message).toMatch(
      /^lines\[0\]\.quantity: expected an integer/,
    );
    expect(bad({ lines: [{ productId: "x", quantity: 2 ** 40 }] }).message).toMatch(/out of range for int32/);
    expect(bad({ lines: [{ productId: "x", colour: "red" }] }).message).toMatch(/^lines\[0\]\.colour: unknown field/);
    expect(bad({ giftWrap: true }).message).toMatch(/^giftWrap: unknown field/);
    expect(bad({ lines: "x" }).message).toBe('lines: expected an array, got "x"');
    expect(bad({ shippingAddress: { city: 5 } }).message).toBe("shippingAddress.city: expected a string, got 5");
    expect(bad({ card: "4242" }).message).toBe('card: expected an object, got "4242"');
    expect(bad([1, 2]).message).toBe("request body: expected a JSON object");
    expect(bad({ lines: [{ productId: "x" }], lines_: 1 }).message).toMatch(/^lines_: unknown field/);
    expect(bad({ lines: [], idempotencyKey: "k", idempotency_key: "k" }).message).toMatch(/given twice/);
  });

  it("checks enums by name and 64-bit integers as strings", () => {
    const create = route("POST", "/v1/admin/products");
    expect(transcode(create, { body: { price: { currencyCode: "EUR", units: "12", nanos: 500000000 } } })).toEqual({
      price: { currencyCode: "EUR", units: "12", nanos: 500000000 },
    });
    expect(rejection(() => transcode(create, { body: { price: { units: "12.5" } } })).message).toMatch(
      /^price\.units: expected an integer \(int64\)/,
    );
  });

  it("sets the customer id from the token over whatever the client sent", () => {
    const list = route("GET", "/v1/orders");
    expect(transcode(list, { query: { customerId: "someone-else" }, customerId: "me" })).toEqual({ customerId: "me" });
    expect(transcode(list, { query: { customer_id: "someone-else" }, customerId: "me" })).toEqual({ customerId: "me" });
    const place = route("POST", "/v1/orders");
    expect(transcode(place, { body: { customer_id: "someone-else" }, customerId: "me" })).toEqual({ customerId: "me" });
  });

  it("fills idempotency_key from the Idempotency-Key header and refuses a contradicting body", () => {
    const place = route("POST", "/v1/orders");
    expect(transcode(place, { body: {}, idempotencyKey: "key-12345", customerId: "me" })).toEqual({
      idempotencyKey: "key-12345",
      customerId: "me",
    });
    expect(
      transcode(place, { body: { idempotencyKey: "key-12345" }, idempotencyKey: "key-12345", customerId: "me" }),
    ).toMatchObject({ idempotencyKey: "key-12345" });
    expect(
      rejection(() =>
        transcode(place, { body: { idempotency_key: "key-1" }, idempotencyKey: "key-2", customerId: "me" }),
      ).message,
    ).toMatch(/^idempotencyKey: the Idempotency-Key header \("key-2"\) and the body \("key-1"\) disagree/);
  });
});
