// Benchmark of the event pipeline: transactions writing events into the outbox → the relay publishing
// them to JetStream → an inbox-guarded consumer applying them in its own transaction.
// Prints events/s and commit-to-consume latency (p50/p90/p99/max) and records them in results/events.*.
// Real Postgres (TEST_DATABASE_URL or the local server) and a nats-server of its own, like the tests.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { ProductCreatedEvent } from "@agora/contracts";
import type { Product } from "@agora/contracts/agora/catalog/v1/product";
import { type Database, defineService, type Outbox, on } from "@agora/service-kit";
import { createTestDatabase, startService, startTestNats } from "@agora/testing";
import { latencyHistogram, machine, markdownTable, summarize, writeResults } from "./report";

const emptyMigrations = join(__dirname, "..", "fixtures", "empty-migrations");

interface Pipeline {
  write(count: number): Promise<void>;
  consumed(): number;
  recordLatencies(enabled: boolean): void;
  histogram(): ReturnType<typeof latencyHistogram>;
  resetHistogram(): void;
  stop(): Promise<void>;
}

function product(productId: string): Product {
  return {
    productId,
    sku: "BENCH-1",
    name: "bench",
    description: "",
    category: "bench",
    price: { currencyCode: "EUR", units: 1, nanos: 0 },
    imageUrl: "",
    createTime: new Date(),
    updateTime: new Date(),
  };
}

async function startPipeline(): Promise<Pipeline> {
  const nats = await startTestNats();
  const [producerDb, consumerDb] = await Promise.all([
    createTestDatabase("bench_producer"),
    createTestDatabase("bench_consumer"),
  ]);
  let producerDatabase: Database<Record<string, never>> | undefined;
  let producerOutbox: Outbox | undefined;
  let consumed = 0;
  let record = false;
  let histogram = latencyHistogram();
  const env = { NATS_URL: nats.url, LOG_LEVEL: "warn", OUTBOX_POLL_INTERVAL_MS: "1000" };
  const producer = await startService(
    defineService({
      name: "bench-producer",
      ports: { grpc: 0, metrics: 0 },
      database: { schema: {}, migrationsFolder: emptyMigrations },
      events: { publishes: [ProductCreatedEvent] },
      setup: ({ database, outbox }) => {
        producerDatabase = database;
        producerOutbox = outbox;
        return { grpc: [] };
      },
    }),
    { ...env, DATABASE_URL: producerDb.url },
  );
  const consumer = await startService(
    defineService({
      name: "bench-consumer",
      ports: { grpc: 0, metrics: 0 },
      database: { schema: {}, migrationsFolder: emptyMigrations },
      setup: ({ subscribe }) => {
        subscribe({
          name: "products",
          concurrency: 32,
          handlers: [
            on(ProductCreatedEvent, async (_payload, event) => {
              consumed++;
              if (record)
                histogram.recordValue(Math.max(1, Math.round((Date.now() - event.occurredAt.getTime()) * 1000)));
            }),
          ],
        });
        return { grpc: [] };
      },
    }),
    { ...env, DATABASE_URL: consumerDb.url },
  );
  return {
    async write(count) {
      for (let i = 0; i < count; i++) {
        const id = randomUUID();
        await producerDatabase?.db.transaction((tx) =>
          (producerOutbox as Outbox).add(tx, ProductCreatedEvent, { product: product(id) }, { aggregateId: id }),
        );
      }
    },
    consumed: () => consumed,
    recordLatencies: (enabled) => {
      record = enabled;
    },
    histogram: () => histogram,
    resetHistogram: () => {
      histogram = latencyHistogram();
    },
    async stop() {
      await consumer.stop();
      await producer.stop();
      await Promise.all([producerDb.drop(), consumerDb.drop()]);
      await nats.close();
    },
  };
}

async function waitForConsumed(pipeline: Pipeline, target: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pipeline.consumed() < target) {
    if (Date.now() > deadline) throw new Error(`consumed ${pipeline.consumed()} of ${target} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** As fast as `writers` concurrent transactions can go: throughput end to end. */
async function maxThroughput(pipeline: Pipeline, total: number, writers: number) {
  const startConsumed = pipeline.consumed();
  pipeline.resetHistogram();
  pipeline.recordLatencies(true);
  const started = performance.now();
  await Promise.all(Array.from({ length: writers }, () => pipeline.write(Math.ceil(total / writers))));
  const written = performance.now();
  const target = startConsumed + Math.ceil(total / writers) * writers;
  await waitForConsumed(pipeline, target, 120_000);
  const finished = performance.now();
  pipeline.recordLatencies(false);
  const events = target - startConsumed;
  return {
    events,
    writers,
    writeRate: Math.round(events / ((written - started) / 1000)),
    endToEndRate: Math.round(events / ((finished - started) / 1000)),
    latency: summarize(pipeline.histogram()),
  };
}

/** A steady arrival rate for `seconds`: commit-to-consume latency at that load. */
async function fixedRate(pipeline: Pipeline, perSecond: number, seconds: number) {
  const startConsumed = pipeline.consumed();
  pipeline.resetHistogram();
  pipeline.recordLatencies(true);
  const total = perSecond * seconds;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(pipeline.write(1));
  }
  await Promise.all(inFlight);
  await waitForConsumed(pipeline, startConsumed + total, 120_000);
  pipeline.recordLatencies(false);
  return { perSecond, seconds, latency: summarize(pipeline.histogram()) };
}

async function main(): Promise<void> {
  const pipeline = await startPipeline();
  try {
    process.stdout.write("warming up…\n");
    await maxThroughput(pipeline, 1000, 8);
    const throughput = await maxThroughput(pipeline, Number(process.env.BENCH_EVENTS ?? 10_000), 16);
    process.stdout.write(
      `max: ${throughput.events} events, ${throughput.writeRate}/s written, ${throughput.endToEndRate}/s end to end, ` +
        `latency p50 ${throughput.latency.p50} ms p99 ${throughput.latency.p99} ms\n`,
    );
    const rates = [];
    for (const perSecond of [100, 500, 1000]) {
      const result = await fixedRate(pipeline, perSecond, Number(process.env.BENCH_SECONDS ?? 10));
      rates.push(result);
      process.stdout.write(
        `${perSecond}/s: p50 ${result.latency.p50} ms p90 ${result.latency.p90} ms p99 ${result.latency.p99} ms max ${result.latency.max} ms\n`,
      );
    }
    const markdown = `# Event pipeline benchmark

Outbox (a transaction per event) → relay → JetStream (file storage) → inbox-guarded consumer (a
transaction per event), on one machine: ${machine().cpus} × ${machine().cpuModel}, ${machine().node}, Postgres 15 and
nats-server from Debian. Latency is commit-to-consume: from the event's occurred_at (set just before
its transaction commits) to the consumer's handler. Run: \`npm run bench:events\` (${machine().date}).

## Throughput (16 concurrent writers, as fast as possible)

${markdownTable(
  ["events", "written/s", "end to end/s", "p50 ms", "p90 ms", "p99 ms", "max ms"],
  [
    [
      throughput.events,
      throughput.writeRate,
      throughput.endToEndRate,
      throughput.latency.p50,
      throughput.latency.p90,
      throughput.latency.p99,
      throughput.latency.max,
    ],
  ],
)}

## Latency at a steady rate

${markdownTable(
  ["events/s", "seconds", "p50 ms", "p90 ms", "p99 ms", "max ms"],
  rates.map((rate) => [
    rate.perSecond,
    rate.seconds,
    rate.latency.p50,
    rate.latency.p90,
    rate.latency.p99,
    rate.latency.max,
  ]),
)}
`;
    const directory = writeResults("events", { machine: machine(), throughput, rates }, markdown);
    process.stdout.write(`results written to ${directory}/events.{json,md}\n`);
  } finally {
    await pipeline.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
