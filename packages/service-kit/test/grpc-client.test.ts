import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import { type StartedService, startService } from "@agora/testing";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import {
  type CallContext,
  createClient,
  createGrpcMetrics,
  createMetricsRegistry,
  defineService,
  NotFoundError,
  UnavailableError,
} from "../src";
import { fakeCatalogService, sampleProduct } from "./support/fake-catalog";

const silent = pino({ level: "silent" });

describe("gRPC client policies", () => {
  let calls: { getProduct: number; createProduct: number };
  let failWith: grpc.status | undefined;
  let delayMs: number;
  let catalog: StartedService<unknown, Record<string, never>>;

  beforeAll(async () => {
    catalog = await startService(
      fakeCatalogService({
        getProduct: async () => {
          calls.getProduct++;
          if (delayMs > 0) await sleep(delayMs);
          if (failWith !== undefined) throw Object.assign(new UnavailableError("down"), { code: failWith });
          return { product: sampleProduct() };
        },
        createProduct: async () => {
          calls.createProduct++;
          if (failWith !== undefined) throw Object.assign(new UnavailableError("down"), { code: failWith });
          return { product: sampleProduct() };
        },
      }),
    );
  });

  beforeEach(() => {
    calls = { getProduct: 0, createProduct: 0 };
    failWith = undefined;
    delayMs = 0;
  });

  afterAll(() => catalog.stop());

  function client(policies: Parameters<typeof createClient>[2]["policies"] = {}) {
    const registry = createMetricsRegistry("test", "dev");
    const metrics = createGrpcMetrics(registry);
    const created = createClient(CatalogServiceService, catalog.address, {
      downstream: "catalog",
      logger: silent,
      metrics,
      policies: { backoff: { initialDelayMs: 1, maxDelayMs: 5 }, ...policies },
    });
    return { client: created, registry };
  }

  it("retries a method declared idempotent (NO_SIDE_EFFECTS) on UNAVAILABLE, up to maxAttempts", async () => {
    const { client: catalogClient, registry } = client({ maxAttempts: 3, breaker: false });
    failWith = grpc.status.UNAVAILABLE;
    await expect(catalogClient.getProduct({ productId: "x" })).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect(calls.getProduct).toBe(3);
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/grpc_client_retries_total\{[^}]*grpc_method="GetProduct"[^}]*\} 2/);
    catalogClient.close();
  });

  it("does not retry a method without an idempotency declaration (CreateProduct)", async () => {
    const { client: catalogClient } = client({ maxAttempts: 3, breaker: false });
    failWith = grpc.status.UNAVAILABLE;
    const request = {
      productId: "",
      sku: "X",
      name: "x",
      description: "",
      category: "x",
      imageUrl: "",
      price: undefined,
    };
    await expect(catalogClient.createProduct(request)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect(calls.createProduct).toBe(1);
    catalogClient.close();
  });

  it("does not retry codes that another attempt cannot fix (NOT_FOUND, INVALID_ARGUMENT)", async () => {
    const { client: catalogClient } = client({ maxAttempts: 3, breaker: false });
    failWith = grpc.status.NOT_FOUND;
    await expect(catalogClient.getProduct({ productId: "x" })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    expect(calls.getProduct).toBe(1);
    catalogClient.close();
  });

  it("retries until success when the failure is transient", async () => {
    const { client: catalogClient } = client({ maxAttempts: 3, breaker: false });
    failWith = grpc.status.UNAVAILABLE;
    setTimeout(() => {
      failWith = undefined;
    }, 0);
    const response = await catalogClient.getProduct({ productId: "x" });
    expect(response.product?.productId).toBe("sample");
    catalogClient.close();
  });

  it("opens the breaker after consecutive failures, fails fast while open, half-opens and closes again", async () => {
    const { client: catalogClient, registry } = client({
      maxAttempts: 1,
      breaker: { consecutiveFailures: 3, halfOpenAfterMs: 300 },
    });
    failWith = grpc.status.UNAVAILABLE;
    for (let i = 0; i < 3; i++) {
      await expect(catalogClient.getProduct({ productId: "x" })).rejects.toMatchObject({
        code: grpc.status.UNAVAILABLE,
      });
    }
    expect(calls.getProduct).toBe(3);
    expect(catalogClient.circuitState()).toBe("open");
    expect(await registry.metrics()).toMatch(/agora_circuit_breaker_state\{[^}]*downstream="catalog"[^}]*\} 1/);

    // Open: rejected without reaching the server.
    const fastFailure = await catalogClient.getProduct({ productId: "x" }).catch((error: grpc.ServiceError) => error);
    expect(fastFailure).toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect((fastFailure as grpc.ServiceError).details).toMatch(/circuit open/);
    expect(calls.getProduct).toBe(3);

    // After halfOpenAfter, one trial call goes through; its success closes the circuit.
    await sleep(350);
    failWith = undefined;
    await expect(catalogClient.getProduct({ productId: "x" })).resolves.toBeDefined();
    expect(calls.getProduct).toBe(4);
    expect(catalogClient.circuitState()).toBe("closed");
    expect(await registry.metrics()).toMatch(/agora_circuit_breaker_state\{[^}]*downstream="catalog"[^}]*\} 0/);
    catalogClient.close();
  });

  it("reopens when the half-open trial call fails", async () => {
    const { client: catalogClient } = client({
      maxAttempts: 1,
      breaker: { consecutiveFailures: 2, halfOpenAfterMs: 200 },
    });
    failWith = grpc.status.UNAVAILABLE;
    for (let i = 0; i < 2; i++) await catalogClient.getProduct({ productId: "x" }).catch(() => undefined);
    expect(catalogClient.circuitState()).toBe("open");
    await sleep(250);
    await expect(catalogClient.getProduct({ productId: "x" })).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect(calls.getProduct).toBe(3);
    expect(catalogClient.circuitState()).toBe("open");
    catalogClient.close();
  });

  it("does not count business errors against the breaker", async () => {
    const { client: catalogClient } = client({
      maxAttempts: 1,
      breaker: { consecutiveFailures: 2, halfOpenAfterMs: 10_000 },
    });
    failWith = grpc.status.NOT_FOUND;
    for (let i = 0; i < 5; i++) await catalogClient.getProduct({ productId: "x" }).catch(() => undefined);
    expect(catalogClient.circuitState()).toBe("closed");
    catalogClient.close();
  });

  it("uses the fallback when the downstream fails and not otherwise", async () => {
    const { client: catalogClient } = client({ maxAttempts: 1, breaker: false });
    const fallback = { product: { ...sampleProduct("from-fallback") } };
    failWith = grpc.status.UNAVAILABLE;
    expect((await catalogClient.getProduct({ productId: "x" }, { fallback: () => fallback })).product?.productId).toBe(
      "from-fallback",
    );
    failWith = grpc.status.NOT_FOUND;
    await expect(catalogClient.getProduct({ productId: "x" }, { fallback: () => fallback })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
    catalogClient.close();
  });

  it("limits calls in flight with the bulkhead (RESOURCE_EXHAUSTED beyond limit + queue)", async () => {
    const { client: catalogClient } = client({
      maxAttempts: 1,
      breaker: false,
      bulkhead: { maxConcurrent: 2, maxQueued: 1 },
    });
    delayMs = 200;
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => catalogClient.getProduct({ productId: "x" })),
    );
    const rejected = results.filter((result) => result.status === "rejected") as PromiseRejectedResult[];
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(3);
    expect(rejected).toHaveLength(2);
    for (const result of rejected) expect(result.reason).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    catalogClient.close();
  });

  it("gives every call a deadline (DEADLINE_EXCEEDED after timeoutMs)", async () => {
    const { client: catalogClient } = client({ timeoutMs: 150, maxAttempts: 1, breaker: false });
    delayMs = 1000;
    const started = Date.now();
    await expect(catalogClient.getProduct({ productId: "x" })).rejects.toMatchObject({
      code: grpc.status.DEADLINE_EXCEEDED,
    });
    expect(Date.now() - started).toBeLessThan(600);
    catalogClient.close();
  });
});

describe("deadline propagation", () => {
  it("gives outgoing calls the incoming call's deadline when it is sooner than their own timeout", async () => {
    let backendDeadline: Date | undefined;
    const backend = await startService(
      fakeCatalogService({
        getProduct: async (_request, context: CallContext) => {
          backendDeadline = context.deadline;
          await sleep(2000);
          return { product: sampleProduct() };
        },
      }),
    );
    const front = defineService({
      name: "front",
      ports: { grpc: 0, metrics: 0 },
      setup: ({ bind, client }) => {
        const downstream = client(CatalogServiceService, backend.address, {
          downstream: "backend",
          policies: { timeoutMs: 10_000, maxAttempts: 1, breaker: false },
        });
        return {
          grpc: [
            bind(CatalogServiceService, {
              getProduct: (request) => downstream.getProduct(request),
              listProducts: async () => ({ products: [], page: undefined }),
              batchGetProducts: async () => ({ products: [] }),
              searchProducts: async () => ({ products: [], page: undefined }),
              createProduct: async () => ({ product: undefined }),
              updatePrice: async () => ({ product: undefined }),
            }),
          ],
        };
      },
    });
    const frontService = await startService(front);
    try {
      const caller = frontService.client(CatalogServiceService, { timeoutMs: 300, maxAttempts: 1, breaker: false });
      const callerDeadline = Date.now() + 300;
      const started = Date.now();
      await expect(caller.getProduct({ productId: "x" })).rejects.toMatchObject({
        code: grpc.status.DEADLINE_EXCEEDED,
      });
      expect(Date.now() - started).toBeLessThan(1000);
      expect(backendDeadline).toBeDefined();
      // The backend saw (about) the caller's 300 ms deadline, not the front's own 10 s timeout.
      expect((backendDeadline as Date).getTime()).toBeLessThanOrEqual(callerDeadline + 50);
    } finally {
      await frontService.stop();
      await backend.stop();
    }
  });
});

describe("a downstream failure a handler lets through", () => {
  it("reaches the caller with the downstream's code and message as they were, and the log names the downstream", async () => {
    const backend = await startService(
      fakeCatalogService({
        getProduct: async (request) => {
          throw new NotFoundError(`product ${request.productId} not found`);
        },
      }),
    );
    const front = defineService({
      name: "front",
      ports: { grpc: 0, metrics: 0 },
      setup: ({ bind, client }) => {
        const downstream = client(CatalogServiceService, backend.address, {
          downstream: "backend",
          policies: { maxAttempts: 1, breaker: false },
        });
        return {
          grpc: [
            bind(CatalogServiceService, {
              getProduct: (request) => downstream.getProduct(request),
              listProducts: async () => ({ products: [], page: undefined }),
              batchGetProducts: async () => ({ products: [] }),
              searchProducts: async () => ({ products: [], page: undefined }),
              createProduct: async () => ({ product: undefined }),
              updatePrice: async () => ({ product: undefined }),
            }),
          ],
        };
      },
    });
    const lines: string[] = [];
    const logs = new PassThrough();
    logs.on("data", (chunk: Buffer) => lines.push(...chunk.toString().split("\n").filter(Boolean)));
    const running = await front.start({
      env: { GRPC_HOST: "127.0.0.1", GRPC_PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "info", LOG_FORMAT: "json" },
      logDestination: logs,
    });
    const caller = createClient(CatalogServiceService, running.address, {
      downstream: "front",
      logger: silent,
      policies: { maxAttempts: 1, breaker: false },
    });
    try {
      await expect(caller.getProduct({ productId: "p-1" })).rejects.toMatchObject({
        code: grpc.status.NOT_FOUND,
        details: "product p-1 not found",
      });
      await sleep(50);
      expect(lines.map((line) => JSON.parse(line))).toContainEqual(
        expect.objectContaining({ downstream: "backend", code: "NOT_FOUND", msg: "call to backend failed" }),
      );
    } finally {
      caller.close();
      await running.stop();
      await backend.stop();
    }
  });
});
