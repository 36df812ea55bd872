import { join } from "node:path";
import { PassThrough } from "node:stream";
import { ProductCreatedEvent } from "@agora/contracts";
import { CatalogServiceService, type GetProductResponse } from "@agora/contracts/agora/catalog/v1/catalog_service";
import {
  createTestDatabase,
  EventProbe,
  OtlpReceiver,
  startService,
  startTestNats,
  type TestDatabase,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import * as grpc from "@grpc/grpc-js";
import { SpanKind } from "@opentelemetry/api";
import { createLogger, type Database, defineService, grpcAddress, type RunningService, startTracing } from "../src";
import { appliedState, consumerService, producerService } from "./support/event-test-kit";
import { type CatalogHandlers, sampleProduct } from "./support/fake-catalog";

const unimplemented = async (): Promise<never> => {
  throw new Error("not part of this test");
};
const otherHandlers: CatalogHandlers = {
  listProducts: unimplemented,
  getProduct: unimplemented,
  batchGetProducts: unimplemented,
  searchProducts: unimplemented,
  createProduct: unimplemented,
  updatePrice: unimplemented,
};

/** Answers GetProduct with the correlation id its handler saw as the description. */
const backService = defineService({
  name: "back",
  ports: { grpc: 0, metrics: 0 },
  setup: ({ bind }) => ({
    grpc: [
      bind(CatalogServiceService, {
        ...otherHandlers,
        getProduct: async (request, context) => ({
          product: { ...sampleProduct(request.productId), description: context.correlationId },
        }),
      }),
    ],
  }),
});

/**
 * GetProduct calls back's GetProduct and records product_created in its outbox; answers with back's
 * product, its own handler's correlation id as the name.
 */
const frontService = defineService({
  name: "front",
  ports: { grpc: 0, metrics: 0 },
  config: { BACK_ADDR: grpcAddress },
  database: { schema: {}, migrationsFolder: join(__dirname, "fixtures/migrations") },
  events: { publishes: [ProductCreatedEvent] },
  setup: ({ bind, client, config, database, outbox }) => {
    const back = client(CatalogServiceService, config.BACK_ADDR, {
      downstream: "back",
      policies: { maxAttempts: 1, breaker: false },
    });
    return {
      grpc: [
        bind(CatalogServiceService, {
          ...otherHandlers,
          getProduct: async (request, context) => {
            const { product } = await back.getProduct({ productId: request.productId });
            await database.db.transaction((tx) =>
              outbox.add(tx, ProductCreatedEvent, { product }, { aggregateId: request.productId }),
            );
            return { product: product && { ...product, name: context.correlationId } };
          },
        }),
      ],
    };
  },
});

describe("one trace across gRPC and NATS (real OTLP/gRPC export)", () => {
  let nats: TestNats;
  let databases: TestDatabase[];
  let receiver: OtlpReceiver;
  let probe: EventProbe;

  beforeAll(async () => {
    nats = await startTestNats();
    probe = await EventProbe.connect(nats.url, nats.subjectPrefix);

    databases = await Promise.all([createTestDatabase("trace_producer"), createTestDatabase("trace_consumer")]);
    receiver = await OtlpReceiver.start();
  });

  afterAll(async () => {
    await probe.close();
    await receiver.close();

    await Promise.all(databases.map((database) => database.drop()));
    await nats.close();
  });

  it("joins the consumer's span to the trace of the gRPC call that wrote the event", async () => {
    const env = {
      NATS_URL: nats.url,
      NATS_SUBJECT_PREFIX: nats.subjectPrefix,
      OUTBOX_POLL_INTERVAL_MS: "100",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    };
    const producer = await startService(producerService, { ...env, DATABASE_URL: databases[0]?.url });
    const consumer = await startService(consumerService, { ...env, DATABASE_URL: databases[1]?.url });
    try {
      await producer.client(CatalogServiceService).createProduct(
        {
          productId: "traced#1",
          sku: "T",
          name: "traced",
          description: "",
          category: "test",
          price: undefined,
          imageUrl: "",
        },
        { metadata: { "x-correlation-id": "corr-trace-1" } },
      );

      await waitUntil(
        async () =>
          (await appliedState(consumer.running.database as Database<Record<string, never>>)).applications.has(
            "traced#1",
          ),
        20_000,
        "consumer applied the event",
      );
    } finally {
      // Stopping flushes both services' span processors to the receiver.
      await consumer.stop();
      await producer.stop();
    }
    await waitUntil(() => receiver.spans.some((span) => span.kind === 5), 10_000, "consumer span exported");
    const [event] = await probe.ofType(ProductCreatedEvent);
    expect(event?.event.correlationId).toBe("corr-trace-1");

    const server = receiver.spans.find(
      (span) => span.service === "producer" && span.name === "agora.catalog.v1.CatalogService/CreateProduct",
    );
    expect(server).toMatchObject({ kind: 2, attributes: { "rpc.system": "grpc", "rpc.grpc.status_code": 0 } });
    const consume = receiver.spans.find(
      (span) => span.service === "consumer" && span.name === "consume agora.catalog.product_created",
    );
    expect(consume?.kind).toBe(SpanKind.CONSUMER + 1);
    expect(consume?.traceId).toBe(server?.traceId);
    // The event was written inside the server span, so the consumer's span is its child.
    expect(consume?.parentSpanId).toBe(server?.spanId);
    expect(consume?.attributes["messaging.system"]).toBe("nats");
  }, 60_000);

  describe("across a gRPC hop and an event", () => {
    let back: RunningService;
    let front: RunningService;
    let database: TestDatabase;
    const frontLog: string[] = [];

    beforeAll(async () => {
      database = await createTestDatabase("trace_front");
      const env = {
        GRPC_HOST: "127.0.0.1",
        GRPC_PORT: "0",
        METRICS_PORT: "0",
        LOG_LEVEL: "info",
        LOG_FORMAT: "json",
        NATS_URL: nats.url,
        NATS_SUBJECT_PREFIX: nats.subjectPrefix,
        OUTBOX_POLL_INTERVAL_MS: "100",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      };
      const logs = new PassThrough();
      logs.on("data", (chunk: Buffer) => frontLog.push(...chunk.toString().split("\n").filter(Boolean)));
      back = await backService.start({ env: { ...env, LOG_LEVEL: "warn" } });
      front = await frontService.start({
        env: { ...env, DATABASE_URL: database.url, BACK_ADDR: back.address },
        logDestination: logs,
      });
    });

    afterAll(async () => {
      await front?.stop();
      await back?.stop();
      await database.drop();
    });

    /** Calls front's GetProduct with a raw client (the kit's would send a correlation id of its own). */
    async function callFront(productId: string, metadata: Record<string, string> = {}) {
      const raw = new grpc.Client(front.address, grpc.credentials.createInsecure());
      const md = new grpc.Metadata();
      for (const [key, value] of Object.entries(metadata)) md.set(key, value);
      const response = await new Promise<GetProductResponse>((resolve, reject) => {
        raw.makeUnaryRequest(
          CatalogServiceService.getProduct.path,
          CatalogServiceService.getProduct.requestSerialize,
          CatalogServiceService.getProduct.responseDeserialize,
          { productId },
          md,
          (error, value) => (error || !value ? reject(error) : resolve(value)),
        );
      }).finally(() => raw.close());
      const events = await probe.waitFor(ProductCreatedEvent, (all) =>
        all.some((candidate) => candidate.event.aggregateId === productId),
      );
      const event = events.find((candidate) => candidate.event.aggregateId === productId);
      return {
        front: response.product?.name,
        back: response.product?.description,
        eventHeader: event?.headers["Agora-Correlation-Id"],
        envelope: event?.event.correlationId,
      };
    }

    it("carries the caller's correlation id to the downstream call and into the event's NATS headers", async () => {
      expect(await callFront("hop-1", { "x-correlation-id": "corr-hop-1" })).toEqual({
        front: "corr-hop-1",
        back: "corr-hop-1",
        eventHeader: "corr-hop-1",
        envelope: "corr-hop-1",
      });
    });

    it("generates one id when the caller sends none: the access log, handler, downstream call and event share it", async () => {
      const seen = await callFront("hop-2");
      expect(seen.front).toMatch(/^[0-9a-f-]{36}$/);
      expect(seen).toEqual({ front: seen.front, back: seen.front, eventHeader: seen.front, envelope: seen.front });
      await waitUntil(
        () =>
          frontLog.some((line) => {
            const entry = JSON.parse(line);
            return entry.msg === "rpc" && entry.correlation_id === seen.front;
          }),
        2000,
        "access log line with the generated id",
      );
    });

    it("exports the gRPC client span as the parent of the downstream call's server span", async () => {
      await callFront("hop-3", { "x-correlation-id": "corr-hop-3" });
      const frontServer = () =>
        receiver.spans.find(
          (span) =>
            span.service === "front" && span.kind === 2 && span.attributes["agora.correlation_id"] === "corr-hop-3",
        );
      await waitUntil(() => frontServer() !== undefined, 15_000, "front's server span exported");
      const traceId = frontServer()?.traceId ?? "";
      await waitUntil(
        () => receiver.trace(traceId).filter((span) => span.service === "back").length > 0,
        15_000,
        "back's server span exported",
      );
      const spans = receiver.trace(traceId);
      const clientSpan = spans.find((span) => span.service === "front" && span.kind === SpanKind.CLIENT + 1);
      expect(clientSpan).toMatchObject({
        name: "agora.catalog.v1.CatalogService/GetProduct",
        parentSpanId: frontServer()?.spanId,
        attributes: { "rpc.system": "grpc", "peer.service": "back", "rpc.grpc.status_code": 0 },
      });
      const backServer = spans.find((span) => span.service === "back" && span.kind === SpanKind.SERVER + 1);
      expect(backServer?.parentSpanId).toBe(clientSpan?.spanId);
      expect(backServer?.attributes["agora.correlation_id"]).toBe("corr-hop-3");
    });
  });

  it("exports nothing and costs nothing when no endpoint is configured", async () => {
    const tracing = startTracing({ service: "quiet", version: "dev" });
    expect(tracing.enabled).toBe(false);
    const span = tracing.tracer.startSpan("ignored");
    expect(span.isRecording()).toBe(false);
    span.end();
  });

  it("puts trace_id and span_id on log lines written inside a span", async () => {
    const tracing = startTracing({ service: "logging", version: "dev", endpoint: receiver.endpoint });
    const output = new PassThrough();
    const lines: string[] = [];
    output.on("data", (chunk: Buffer) => lines.push(chunk.toString()));
    const logger = createLogger({
      service: "logging",
      version: "dev",
      level: "info",
      format: "json",
      destination: output,
    });
    let expected = "";
    tracing.tracer.startActiveSpan("work", (span) => {
      expected = span.spanContext().traceId;
      logger.info("inside");
      span.end();
    });
    await tracing.shutdown();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const entry = JSON.parse(lines.find((line) => line.includes("inside")) ?? "{}");
    expect(entry.trace_id).toBe(expected);
    expect(entry.span_id).toMatch(/^[0-9a-f]{16}$/);
  });
});
