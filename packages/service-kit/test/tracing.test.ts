import { PassThrough } from "node:stream";
import { ProductCreatedEvent } from "@agora/contracts";
import { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
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
import { SpanKind } from "@opentelemetry/api";
import { createLogger, type Database, startTracing } from "../src";
import { appliedState, consumerService, producerService } from "./support/event-test-kit";

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
