import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import { checkHealth, type ServiceProcess, spawnServiceProcess, waitUntil } from "@agora/testing";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import { createClient } from "../src";

describe("graceful shutdown of a service process", () => {
  let service: ServiceProcess;

  beforeAll(async () => {
    service = await spawnServiceProcess(join(__dirname, "fixtures/slow-catalog.js"), {
      SLOW_MS: "1500",
      SHUTDOWN_DELAY_MS: "600",
      SHUTDOWN_TIMEOUT_MS: "5000",
    });
  });

  afterAll(() => service.stop());

  it("turns NOT_SERVING on SIGTERM before the port closes, finishes in-flight calls, then exits 0", async () => {
    const client = createClient(CatalogServiceService, service.address, {
      downstream: "slow",
      logger: pino({ level: "silent" }),
      policies: { maxAttempts: 1, breaker: false, timeoutMs: 10_000 },
    });
    const inFlight = client.getProduct({ productId: "slow" });
    await sleep(200);
    service.kill("SIGTERM");

    // Still reachable, reporting NOT_SERVING, while SHUTDOWN_DELAY_MS runs.
    await waitUntil(
      () =>
        checkHealth(service.address).then(
          (status) => status === "NOT_SERVING",
          () => false,
        ),
      500,
      "NOT_SERVING",
    );

    // The call that was in flight at SIGTERM completes normally.
    const response = await inFlight;
    expect(response.product?.productId).toBe("slow");

    expect(await service.exited).toBe(0);
    await expect(checkHealth(service.address, "", 500)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    client.close();
  }, 20_000);

  it("cuts long server streams once unary calls drained (no hang until the timeout)", async () => {
    const streaming = await spawnServiceProcess(join(__dirname, "fixtures/slow-catalog.js"), {
      SHUTDOWN_TIMEOUT_MS: "8000",
    });
    // A health Watch stream never ends by itself.
    const watcher = new grpc.Client(streaming.address, grpc.credentials.createInsecure());
    const stream = watcher.makeServerStreamRequest(
      "/grpc.health.v1.Health/Watch",
      () => Buffer.alloc(0),
      (bytes: Buffer) => bytes,
      {},
    );
    stream.on("error", () => {});
    await sleep(100);
    const started = Date.now();
    streaming.kill("SIGTERM");
    expect(await streaming.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(3000);
    watcher.close();
  }, 20_000);
});
