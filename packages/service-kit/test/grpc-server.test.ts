import { createServer, connect as tcpConnect } from "node:net";
import { PassThrough } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import { ReflectionClient, startService } from "@agora/testing";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import {
  agoraDescriptors,
  answerReflectionRequest,
  createGrpcMetrics,
  createMetricsRegistry,
  FailedPreconditionError,
  GrpcServer,
  InvalidArgumentError,
  MAX_MESSAGE_BYTES,
  NotFoundError,
  type RunningService,
} from "../src";
import { fakeCatalogService, sampleProduct } from "./support/fake-catalog";

describe("gRPC server", () => {
  let service: RunningService;
  let logLines: string[];
  const logs = new PassThrough();

  beforeAll(async () => {
    logLines = [];
    logs.on("data", (chunk: Buffer) => logLines.push(...chunk.toString().split("\n").filter(Boolean)));
    const catalog = fakeCatalogService({
      getProduct: async (request, context) => {
        if (request.productId === "missing") throw new NotFoundError("product missing not found");
        // Echoes the correlation id the handler got, for the access log test.
        if (request.productId === "echo")
          return { product: { ...sampleProduct("echo"), description: context.correlationId } };
        if (request.productId === "explode") throw new Error("database password is hunter2");
        return { product: sampleProduct(request.productId) };
      },
      batchGetProducts: async () => {
        throw new InvalidArgumentError("product_ids[2]", "must be lower case");
      },
      updatePrice: async () => {
        throw new FailedPreconditionError("currency differs");
      },
    });
    service = await catalog.start({
      env: { GRPC_HOST: "127.0.0.1", GRPC_PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "info" },
      logDestination: logs,
    });
  });

  afterAll(() => service.stop());

  function rawClient() {
    return new grpc.Client(service.address, grpc.credentials.createInsecure());
  }

  function call<Res>(method: keyof typeof CatalogServiceService, request: unknown): Promise<Res> {
    const definition = CatalogServiceService[method];
    const client = rawClient();
    return new Promise<Res>((resolve, reject) => {
      client.makeUnaryRequest(
        definition.path,
        definition.requestSerialize as (value: unknown) => Buffer,
        definition.responseDeserialize as (bytes: Buffer) => Res,
        request,
        (error, response) => {
          client.close();
          if (error) reject(error);
          else resolve(response as Res);
        },
      );
    });
  }

  it("maps domain errors to their status codes with their messages", async () => {
    await expect(call("getProduct", { productId: "missing" })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
      details: "product missing not found",
    });
    await expect(call("batchGetProducts", { productIds: [] })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: "product_ids[2]: must be lower case",
    });
    await expect(call("updatePrice", { productId: "x" })).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
    });
  });

  it("answers INTERNAL for unexpected errors without sending the detail, and logs it", async () => {
    const error = await call("getProduct", { productId: "explode" }).catch((caught: grpc.ServiceError) => caught);
    expect(error).toMatchObject({ code: grpc.status.INTERNAL });
    expect((error as grpc.ServiceError).details).not.toContain("hunter2");
    const errorId = /error id ([0-9a-f-]+)/.exec((error as grpc.ServiceError).details)?.[1];
    expect(errorId).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const logged = logLines.map((line) => JSON.parse(line)).find((entry) => entry.error_id === errorId);
    expect(logged?.err?.message).toContain("hunter2");
  });

  it("answers INVALID_ARGUMENT, not INTERNAL, for bytes that are not the request message", async () => {
    const client = rawClient();
    const error = await new Promise<grpc.ServiceError>((resolve) => {
      client.makeUnaryRequest(
        CatalogServiceService.getProduct.path,
        (value: Buffer) => value,
        (bytes: Buffer) => bytes,
        Buffer.from([0x0a, 0xff, 0xff, 0xff]),
        (failure) => resolve(failure as grpc.ServiceError),
      );
    });
    client.close();
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/^request: not a valid message/);
  });

  it("writes one structured access log line per call with method, code, duration and correlation id", async () => {
    const client = rawClient();
    const metadata = new grpc.Metadata();
    metadata.set("x-correlation-id", "corr-123");
    await new Promise<void>((resolve, reject) => {
      client.makeUnaryRequest(
        CatalogServiceService.getProduct.path,
        CatalogServiceService.getProduct.requestSerialize,
        CatalogServiceService.getProduct.responseDeserialize,
        { productId: "logged" },
        metadata,
        (error) => (error ? reject(error) : resolve()),
      );
    });
    client.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const entry = logLines
      .map((line) => JSON.parse(line))
      .find((candidate) => candidate.msg === "rpc" && candidate.correlation_id === "corr-123");
    expect(entry).toMatchObject({
      service: "fake-catalog",
      rpc: "/agora.catalog.v1.CatalogService/GetProduct",
      grpc_code: "OK",
    });
    expect(typeof entry.duration_ms).toBe("number");
    expect(entry.peer).toMatch(/127\.0\.0\.1/);
  });

  it("generates a correlation id when the caller sends none, and the access log and the handler share it", async () => {
    const response = await call<{ product: { description: string } }>("getProduct", { productId: "echo" });
    const generated = response.product.description;
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const entry = logLines
      .map((line) => JSON.parse(line))
      .find(
        (candidate) =>
          candidate.msg === "rpc" && candidate.rpc?.endsWith("/GetProduct") && candidate.correlation_id === generated,
      );
    expect(entry).toMatchObject({ grpc_code: "OK" });
  });

  it("exports RED metrics per method and status code on /metrics", async () => {
    const body = await (await fetch(`http://127.0.0.1:${service.metricsPort}/metrics`)).text();
    expect(body).toMatch(
      /grpc_server_handled_total\{[^}]*grpc_service="agora.catalog.v1.CatalogService",grpc_method="GetProduct",grpc_code="NOT_FOUND"[^}]*\} [1-9]/,
    );
    expect(body).toMatch(/grpc_server_handling_seconds_bucket\{[^}]*grpc_method="GetProduct"/);
    expect(body).toMatch(/process_resident_memory_bytes/);
  });

  it("serves reflection v1 and v1alpha from the compiled descriptors, with imports and well-known types", async () => {
    for (const version of ["v1", "v1alpha"] as const) {
      const reflection = new ReflectionClient(service.address, version);
      try {
        expect(await reflection.listServices()).toEqual(
          expect.arrayContaining(["agora.catalog.v1.CatalogService", "grpc.health.v1.Health"]),
        );
        const product = await reflection.describe("agora.catalog.v1.Product");
        expect(product.kind).toBe("message");
        const fields = product.kind === "message" ? product.fields : [];
        expect(fields.find((field) => field.name === "price")?.message?.typeName).toBe("agora.common.v1.Money");
        expect(fields.find((field) => field.name === "create_time")?.message?.typeName).toBe(
          "google.protobuf.Timestamp",
        );
        const response = await reflection.invoke("agora.catalog.v1.CatalogService/GetProduct", { productId: "kettle" });
        expect(response).toMatchObject({
          product: {
            productId: "kettle",
            price: { currencyCode: "EUR", units: "12" },
            createTime: "2026-01-02T03:04:05Z",
          },
        });
        const health = await reflection.describe("grpc.health.v1.Health");
        expect(health.kind).toBe("service");
      } finally {
        reflection.close();
      }
    }
  });

  it("resolves field, oneof and enum-value symbols to their file, as grpcurl describe asks for them", async () => {
    const reflection = new ReflectionClient(service.address);
    try {
      const field = await reflection.describeSymbol("agora.common.v1.Money.currency_code");
      expect(field.kind === "field" && field.parent.typeName).toBe("agora.common.v1.Money");
      const oneof = await reflection.describeSymbol("agora.options.v1.HttpRule.pattern");
      expect(oneof.kind).toBe("oneof");
      for (const symbol of [
        "agora.order.v1.ORDER_STATUS_CONFIRMED",
        "agora.order.v1.OrderStatus.ORDER_STATUS_CONFIRMED",
      ]) {
        const value = await reflection.describeSymbol(symbol);
        expect(value.kind === "enum_value" && [value.parent.typeName, value.number]).toEqual([
          "agora.order.v1.OrderStatus",
          2,
        ]);
      }
      const method = await reflection.describeSymbol("agora.catalog.v1.CatalogService.GetProduct");
      expect(method.kind).toBe("rpc");
      await expect(reflection.describeSymbol("agora.common.v1.Money.nope")).rejects.toThrow(/not found/);
    } finally {
      reflection.close();
    }
    // The answer is the file containing the symbol (then its dependencies), by its real name.
    const answer = answerReflectionRequest(agoraDescriptors(), [], {
      message_request: "file_containing_symbol",
      file_containing_symbol: "agora.common.v1.Money.currency_code",
    }) as { file_descriptor_response: { file_descriptor_proto: Uint8Array[] } };
    const [first] = answer.file_descriptor_response.file_descriptor_proto;
    expect(fromBinary(FileDescriptorProtoSchema, first as Uint8Array).name).toBe("agora/common/v1/money.proto");
  });

  it("answers NOT_FOUND in reflection for unknown symbols", async () => {
    const reflection = new ReflectionClient(service.address);
    try {
      await expect(reflection.describe("agora.nothing.v1.Nope")).rejects.toThrow(/not found/);
    } finally {
      reflection.close();
    }
  });
});

describe("fault injection", () => {
  it("fails the configured share of calls with UNAVAILABLE and adds latency", async () => {
    const started = await startService(fakeCatalogService({ getProduct: async () => ({ product: sampleProduct() }) }), {
      FAULT_ERROR_RATE: "1",
      FAULT_DELAY_MS: "50",
    });
    try {
      const client = started.client(CatalogServiceService);
      const before = Date.now();
      await expect(client.getProduct({ productId: "x" })).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      expect(Date.now() - before).toBeGreaterThanOrEqual(45);
    } finally {
      await started.stop();
    }
  });
});

describe("database failures", () => {
  it("maps connection trouble to UNAVAILABLE and conflicts to ABORTED, through wrapping causes", () => {
    const { transientDatabaseFailure } = require("../src") as typeof import("../src");
    const tooMany = Object.assign(new Error("sorry, too many clients already"), { code: "53300" });
    const wrapped = new Error("Failed query: select 1", { cause: tooMany });
    expect(transientDatabaseFailure(wrapped)?.code).toBe(grpc.status.UNAVAILABLE);
    expect(transientDatabaseFailure(Object.assign(new Error("deadlock"), { code: "40P01" }))?.code).toBe(
      grpc.status.ABORTED,
    );
    expect(transientDatabaseFailure(Object.assign(new Error("unique"), { code: "23505" }))).toBeUndefined();
    expect(transientDatabaseFailure(new Error("plain"))).toBeUndefined();
  });
});

describe("message size limits and keepalive", () => {
  let service: RunningService;

  beforeAll(async () => {
    const catalog = fakeCatalogService({
      getProduct: async (request) => ({
        // "big" answers with a message over the 4 MiB limit.
        product: { ...sampleProduct(), description: request.productId === "big" ? "x".repeat(MAX_MESSAGE_BYTES) : "" },
      }),
    });
    service = await catalog.start({
      env: { GRPC_HOST: "127.0.0.1", GRPC_PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "silent" },
    });
  });

  afterAll(() => service.stop());

  /** A raw client without limits of its own, so the server's limits are what is tested. */
  function unlimitedCall(productId: string): Promise<unknown> {
    const client = new grpc.Client(service.address, grpc.credentials.createInsecure(), {
      "grpc.max_send_message_length": -1,
      "grpc.max_receive_message_length": -1,
    });
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        CatalogServiceService.getProduct.path,
        CatalogServiceService.getProduct.requestSerialize,
        CatalogServiceService.getProduct.responseDeserialize,
        { productId },
        (error, response) => {
          client.close();
          if (error) reject(error);
          else resolve(response);
        },
      );
    });
  }

  it("refuses a request above the message size limit with RESOURCE_EXHAUSTED", async () => {
    await expect(unlimitedCall("y".repeat(MAX_MESSAGE_BYTES + 1))).rejects.toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
    });
    // Just under the limit is fine.
    await expect(unlimitedCall("y".repeat(MAX_MESSAGE_BYTES - 64))).resolves.toBeDefined();
  });

  it("does not send a response above the limit (RESOURCE_EXHAUSTED)", async () => {
    await expect(unlimitedCall("big")).rejects.toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
  });

  it("cuts a connection whose peer stops answering keepalive pings", async () => {
    const metrics = createGrpcMetrics(createMetricsRegistry("keepalive", "test"));
    const start = async (channelOptions?: grpc.ChannelOptions) => {
      const server = new GrpcServer({
        host: "127.0.0.1",
        port: 0,
        logger: pino({ level: "silent" }),
        metrics,
        descriptors: agoraDescriptors(),
        services: [],
        channelOptions,
      });
      const port = await server.listen();
      server.setServing(true);
      return { server, port };
    };
    /** Opens a health Watch through a proxy, then freezes the proxy; resolves whether the server hung up. */
    const serverHangsUpOnFrozenPeer = async (port: number, withinMs: number): Promise<boolean> => {
      let upstreamClosed: (() => void) | undefined;
      const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
      let freeze: (() => void) | undefined;
      const proxy = createServer((downstream) => {
        const upstream = tcpConnect({ port, host: "127.0.0.1" });
        downstream.pipe(upstream);
        upstream.pipe(downstream);
        upstream.on("close", () => upstreamClosed?.());
        upstream.on("error", () => {});
        downstream.on("error", () => {});
        // Frozen: nothing more reaches the client (the server's pings are read and dropped, so the
        // server's side of the connection still sees its close), and nothing comes back.
        freeze = () => {
          downstream.unpipe(upstream);
          downstream.pause();
          upstream.unpipe(downstream);
          upstream.on("data", () => {});
          upstream.resume();
        };
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      const proxyPort = (proxy.address() as { port: number }).port;
      const client = new grpc.Client(`127.0.0.1:${proxyPort}`, grpc.credentials.createInsecure());
      const watch = client.makeServerStreamRequest(
        "/grpc.health.v1.Health/Watch",
        () => Buffer.alloc(0),
        (bytes: Buffer) => bytes,
        {},
      );
      watch.on("error", () => {});
      await new Promise((resolve) => watch.once("data", resolve));
      freeze?.();
      const hungUp = await Promise.race([closed.then(() => true), sleep(withinMs).then(() => false)]);
      watch.cancel();
      client.close();
      proxy.close();
      return hungUp;
    };

    const short = await start({ "grpc.keepalive_time_ms": 200, "grpc.keepalive_timeout_ms": 200 });
    const usual = await start();
    try {
      expect(await serverHangsUpOnFrozenPeer(short.port, 3000)).toBe(true);
      // With the kit's defaults (a ping every 30 s) the same frozen peer is not cut within a second.
      expect(await serverHangsUpOnFrozenPeer(usual.port, 1000)).toBe(false);
    } finally {
      await short.server.drain(0);
      await usual.server.drain(0);
    }
  }, 20_000);
});
