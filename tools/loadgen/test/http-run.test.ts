import type { Report } from "../src/report";
import { runLoad } from "../src/runner";
import { testOptions } from "./options";
import { StandInShop } from "./stand-in-shop";

const sum = (...values: Array<number | undefined>) => values.reduce<number>((total, value) => total + (value ?? 0), 0);

describe("a run against a stand-in gateway", () => {
  const shop = new StandInShop({
    searchFailEvery: 4,
    productDelayMs: 30,
    confirmDelayMs: 40,
    shipDelayMs: 60,
    rejectProducts: ["product-07"],
  });
  let report: Report;

  beforeAll(async () => {
    await shop.start();
    report = await runLoad(testOptions({ target: shop.url, rate: 60, durationMs: 3000 }));
  }, 30_000);

  afterAll(() => shop.stop());

  it("offers exactly rate × duration flows and finishes them all", () => {
    expect(report.window.seconds).toBe(3);
    expect(report.totals.offered).toBe(180);
    expect(report.totals.started).toBe(180);
    expect(report.totals.dropped).toBe(0);
    expect(report.totals.incomplete).toBe(0);
    expect(report.totals.succeeded + report.totals.failed).toBe(180);
    for (const flow of ["browse", "view-product", "register-login", "place-order"]) {
      expect(report.flows[flow]?.started).toBeGreaterThan(20);
    }
  });

  it("counts exactly the requests the server answered, step by step", () => {
    const browse = report.flows.browse?.steps ?? {};
    // One more list request: reading the catalog at the start.
    expect(shop.count("GET /v1/products")).toBe(
      1 + sum(browse["list-products"]?.requests, browse["list-category"]?.requests),
    );
    expect(browse["search-products"]?.requests).toBe(shop.count("GET /v1/products/search"));
    expect(report.flows["view-product"]?.steps["get-product"]?.requests).toBe(
      shop.count("GET /v1/products/{productId}"),
    );
    const register = sum(
      report.flows["register-login"]?.steps.register?.succeeded,
      report.flows["place-order"]?.steps.register?.succeeded,
    );
    expect(register).toBe(shop.count("POST /v1/customers", 201));
    const login = sum(
      report.flows["register-login"]?.steps.login?.succeeded,
      report.flows["place-order"]?.steps.login?.succeeded,
    );
    expect(login).toBe(shop.count("POST /v1/sessions", 200));
    const order = report.flows["place-order"]?.steps ?? {};
    expect(order["place-order"]?.succeeded).toBe(shop.count("POST /v1/orders", 202));
    expect(order["follow-order"]?.requests).toBe(shop.count("GET /v1/orders/{orderId}/events", 200));
    expect(report.totals.requests).toBe(
      [...shop.counts.values()].reduce((total, count) => total + count, 0) - 1, // minus the catalog read
    );
  });

  it("reports the server's errors by code with a sample, and fails exactly the flows they hit", () => {
    const failures = shop.count("GET /v1/products/search", 503);
    expect(failures).toBeGreaterThan(5);
    expect(report.flows.browse?.steps["search-products"]?.errors).toEqual({ "http:503": failures });
    expect(report.flows.browse?.failed).toBe(failures);
    expect(report.flows.browse?.errors).toEqual({ "http:503": failures });
    expect(report.totals.failed).toBe(failures);
    expect(report.errors).toEqual([
      { code: "http:503", count: failures, sample: "HTTP 503 UNAVAILABLE: catalog is failing; circuit open" },
    ]);
    expect(report.totals.errorRate).toBeCloseTo(failures / 180, 5);
    // The failed flow stopped at the search: it never listed the category.
    expect(report.flows.browse?.steps["list-category"]?.requests).toBe((report.flows.browse?.started ?? 0) - failures);
  });

  it("measures latencies that include the server's delays", () => {
    const product = report.flows["view-product"]?.steps["get-product"]?.latencyMs;
    expect(product?.p50).toBeGreaterThanOrEqual(30);
    expect(product?.p50).toBeLessThan(80);
    expect(product?.max).toBeGreaterThanOrEqual(product?.p99 ?? Number.POSITIVE_INFINITY);
    // Flow latency runs from the intended start, so it is never below the step's.
    expect(report.flows["view-product"]?.latencyMs.min).toBeGreaterThanOrEqual(product?.min ?? 0);
  });

  it("follows every order to its final status and times placement → CONFIRMED and → final", () => {
    const serverOrders = [...shop.orders.values()];
    const rejected = serverOrders.filter((order) => order.status === "ORDER_STATUS_REJECTED").length;
    const shipped = serverOrders.filter((order) => order.status === "ORDER_STATUS_SHIPPED").length;
    expect(serverOrders.length).toBe(report.orders.placed);
    expect(report.orders.outcomes).toEqual({
      ORDER_STATUS_SHIPPED: shipped,
      ...(rejected > 0 ? { ORDER_STATUS_REJECTED: rejected } : {}),
    });
    expect(shipped).toBeGreaterThan(10);
    expect(report.orders.confirmed).toBe(shipped);
    expect(report.orders.toConfirmedMs.count).toBe(shipped);
    expect(report.orders.toTerminalMs.count).toBe(shipped + rejected);
    // The stand-in confirms 40 ms after it takes the order; Node's millisecond timers can fire up to
    // 1 ms early as the tool's high-resolution clock sees it.
    expect(report.orders.toConfirmedMs.min).toBeGreaterThanOrEqual(39);
    expect(report.orders.toConfirmedMs.p50).toBeLessThan(140);
    expect(report.orders.toTerminalMs.p50).toBeGreaterThanOrEqual(100);
    expect(report.flows["place-order"]?.succeeded).toBe(report.orders.placed);
  });
});

describe("open model and limits", () => {
  const shop = new StandInShop({ productDelayMs: 400 });
  beforeAll(() => shop.start());
  afterAll(() => shop.stop());
  const viewOnly = new Map([["view-product", 1]]);

  it("keeps offering the rate while every answer takes far longer than the gap between arrivals", async () => {
    const before = shop.count("GET /v1/products/{productId}");
    const report = await runLoad(testOptions({ target: shop.url, rate: 100, durationMs: 1500, flows: viewOnly }));
    expect(report.totals.offered).toBe(150);
    expect(shop.count("GET /v1/products/{productId}") - before).toBe(150);
    expect(report.flows["view-product"]?.succeeded).toBe(150);
    expect(report.flows["view-product"]?.latencyMs.p50).toBeGreaterThanOrEqual(400);
  }, 20_000);

  it("drops arrivals beyond --max-in-flight and counts them as errors", async () => {
    const report = await runLoad(
      testOptions({ target: shop.url, rate: 50, durationMs: 1000, flows: viewOnly, maxInFlight: 5 }),
    );
    expect(report.totals.offered).toBe(50);
    expect(report.totals.started).toBeLessThanOrEqual(15);
    expect(report.totals.dropped).toBe(50 - report.totals.started);
    expect(report.totals.errorRate).toBeCloseTo(report.totals.dropped / 50, 5);
  }, 20_000);

  it("fails requests that outlive --timeout with the code timeout", async () => {
    const report = await runLoad(
      testOptions({ target: shop.url, rate: 20, durationMs: 500, flows: viewOnly, timeoutMs: 100 }),
    );
    expect(report.flows["view-product"]?.failed).toBe(10);
    expect(report.errors.map((error) => error.code)).toEqual(["timeout"]);
    expect(report.errors[0]?.sample).toMatch(/no response to GET \/v1\/products\/product-\d+ within 100 ms/);
  }, 20_000);

  it("measures only after the warm-up", async () => {
    const own = new StandInShop({ productDelayMs: 10 });
    await own.start();
    try {
      const report = await runLoad(
        testOptions({ target: own.url, rate: 40, warmupMs: 1000, durationMs: 1000, flows: viewOnly }),
      );
      expect(report.window.seconds).toBe(1);
      expect(report.totals.offered).toBe(40);
      expect(report.flows["view-product"]?.started).toBe(40);
      expect(report.flows["view-product"]?.steps["get-product"]?.requests).toBe(40);
      expect(own.count("GET /v1/products/{productId}")).toBe(80);
    } finally {
      await own.stop();
    }
  }, 20_000);

  it("with --sign-in-first signs every user up before the first arrival, outside the measurements", async () => {
    const own = new StandInShop({ confirmDelayMs: 5, shipDelayMs: 5 });
    await own.start();
    try {
      const report = await runLoad(
        testOptions({
          target: own.url,
          rate: 20,
          durationMs: 1000,
          flows: new Map([["place-order", 1]]),
          users: 6,
          signInFirst: true,
        }),
      );
      expect(own.count("POST /v1/customers", 201)).toBe(6);
      expect(own.count("POST /v1/sessions", 200)).toBe(6);
      expect(report.flows["place-order"]?.succeeded).toBe(20);
      expect(report.flows["place-order"]?.steps.register).toBeUndefined();
      expect(report.flows["place-order"]?.steps.login).toBeUndefined();
    } finally {
      await own.stop();
    }
  }, 20_000);

  it("cuts off flows still running after the drain timeout as incomplete, not as errors", async () => {
    const slow = new StandInShop({ productDelayMs: 3000 });
    await slow.start();
    try {
      const started = Date.now();
      const report = await runLoad(
        testOptions({ target: slow.url, rate: 20, durationMs: 500, flows: viewOnly, drainTimeoutMs: 200 }),
      );
      expect(Date.now() - started).toBeLessThan(2500);
      expect(report.totals.incomplete).toBe(10);
      expect(report.totals.failed).toBe(0);
      expect(report.errors).toEqual([]);
    } finally {
      await slow.stop();
    }
  }, 20_000);

  it("reports connection failures with their network code once the gateway goes away", async () => {
    const vanishing = new StandInShop();
    await vanishing.start();
    const stopped = new Promise<void>((resolve) => setTimeout(() => vanishing.stop().then(resolve), 700));
    const report = await runLoad(
      testOptions({ target: vanishing.url, rate: 40, durationMs: 1500, flows: new Map([["browse", 1]]) }),
    );
    await stopped;
    expect(report.flows.browse?.succeeded).toBeGreaterThan(10);
    expect(report.flows.browse?.failed).toBeGreaterThan(10);
    expect(report.errors.map((error) => error.code)).toContain("net:ECONNREFUSED");
  }, 20_000);

  it("gives up with a clear error when the target never answers", async () => {
    await expect(runLoad(testOptions({ target: "http://127.0.0.1:9", waitReadyMs: 0 }))).rejects.toThrow(
      /cannot read the catalog from http:\/\/127\.0\.0\.1:9: .*ECONNREFUSED/,
    );
  });
});

describe("following orders by polling", () => {
  it("polls GET /v1/orders/{id} until the order is final", async () => {
    const shop = new StandInShop({ confirmDelayMs: 50, shipDelayMs: 50 });
    await shop.start();
    try {
      const report = await runLoad(
        testOptions({
          target: shop.url,
          rate: 20,
          durationMs: 1000,
          flows: new Map([["place-order", 1]]),
          follow: "poll",
          pollIntervalMs: 20,
        }),
      );
      expect(report.orders.placed).toBe(20);
      expect(report.orders.outcomes).toEqual({ ORDER_STATUS_SHIPPED: 20 });
      const polls = report.flows["place-order"]?.steps["get-order"]?.requests ?? 0;
      expect(polls).toBe(shop.count("GET /v1/orders/{orderId}"));
      expect(polls).toBeGreaterThanOrEqual(20 * 4);
      expect(report.orders.toTerminalMs.min).toBeGreaterThanOrEqual(100);
    } finally {
      await shop.stop();
    }
  }, 20_000);

  it("gives up on an order after --order-timeout with the code order-timeout", async () => {
    const shop = new StandInShop({ confirmDelayMs: 60_000 });
    await shop.start();
    try {
      const report = await runLoad(
        testOptions({
          target: shop.url,
          rate: 10,
          durationMs: 500,
          flows: new Map([["place-order", 1]]),
          orderTimeoutMs: 300,
        }),
      );
      expect(report.orders.outcomes).toEqual({ TIMEOUT: 5 });
      expect(report.flows["place-order"]?.errors).toEqual({ "order-timeout": 5 });
      expect(report.errors[0]).toMatchObject({ code: "order-timeout", count: 5 });
      expect(report.errors[0]?.sample).toMatch(/order still ORDER_STATUS_PENDING after --order-timeout 300 ms/);
    } finally {
      await shop.stop();
    }
  }, 20_000);
});
