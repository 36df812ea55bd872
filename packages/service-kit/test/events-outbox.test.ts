import { ProductCreatedEvent } from "@agora/contracts";
import { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import {
  createTestDatabase,
  EventProbe,
  type StartedService,
  spawnServiceProcess,
  startService,
  startTestNats,
  type TestDatabase,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import { sql } from "drizzle-orm";
import type { Database, Outbox } from "../src";
import {
  appliedState,
  consumerService,
  eventServicesScript,
  openProducerDatabase,
  producerService,
  writeEvents,
} from "./support/event-test-kit";

const newProduct = (productId: string) => ({
  productId,
  sku: "S",
  name: productId,
  description: "",
  category: "test",
  price: undefined,
  imageUrl: "",
});

/** The relay's lag gauges as /metrics shows them. */
async function lagOf(metricsUrl: string): Promise<{ unpublished: number; oldestAgeSeconds: number }> {
  const metrics = await (await fetch(metricsUrl)).text();
  const gauge = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(metrics)?.[1] ?? Number.NaN);
  return {
    unpublished: gauge("agora_outbox_unpublished_events"),
    oldestAgeSeconds: gauge("agora_outbox_oldest_unpublished_age_seconds"),
  };
}

const range = <T>(count: number, item: (index: number) => T): T[] => Array.from({ length: count }, (_, i) => item(i));

describe("transactional outbox and relay (real Postgres, real NATS JetStream)", () => {
  let nats: TestNats;
  let producerDb: TestDatabase;
  let consumerDb: TestDatabase;
  let producer: { database: Database<Record<string, never>>; outbox: Outbox };
  let consumer: StartedService<unknown, Record<string, never>>;
  let probe: EventProbe;
  let baseEnv: Record<string, string>;

  beforeAll(async () => {
    nats = await startTestNats();
    producerDb = await createTestDatabase("outbox_producer");
    consumerDb = await createTestDatabase("outbox_consumer");
    producer = await openProducerDatabase(producerDb.url);
    baseEnv = { NATS_URL: nats.url, NATS_SUBJECT_PREFIX: nats.subjectPrefix, OUTBOX_POLL_INTERVAL_MS: "100" };
    consumer = await startService(consumerService, { ...baseEnv, DATABASE_URL: consumerDb.url });
    probe = await EventProbe.connect(nats.url, nats.subjectPrefix);
  });

  afterAll(async () => {
    await probe.close();
    await consumer.stop();
    await producer.database.close();
    await Promise.all([producerDb.drop(), consumerDb.drop()]);
    await nats.close();
  });

  async function waitApplied(productIds: string[]) {
    await waitUntil(
      async () => {
        const { applications } = await appliedState(consumer.running.database as Database<Record<string, never>>);
        return productIds.every((id) => applications.has(id));
      },
      20_000,
      "consumer applied every event",
    );
    return appliedState(consumer.running.database as Database<Record<string, never>>);
  }

  it("survives a relay killed between publishing and marking: each event's effect is seen exactly once", async () => {
    const ids = range(10, (i) => `crash-${i}#1`);
    await writeEvents(producer.database, producer.outbox, ids);

    // First relay: publishes one event, then the process exits before marking it published.
    const crashing = await spawnServiceProcess(
      eventServicesScript,
      { ...baseEnv, DATABASE_URL: producerDb.url, FAILPOINT: "outbox-exit-after-publish" },
      { args: ["producer"], waitUntilServing: false },
    );
    expect(await crashing.exited).toBe(86);
    const [unmarked] = await producer.database.rows<{ count: number }>(
      sql`select count(*)::int as count from agora_outbox where published_at is null`,
    );
    expect(Number(unmarked?.count)).toBe(10);
    expect((await probe.ofType(ProductCreatedEvent)).length).toBe(1);

    // Restarted relay: republishes the first event (JetStream drops the duplicate by Nats-Msg-Id) and the rest.
    const relay = await spawnServiceProcess(
      eventServicesScript,
      { ...baseEnv, DATABASE_URL: producerDb.url },
      { args: ["producer"] },
    );
    try {
      const { applications } = await waitApplied(ids);
      for (const id of ids) expect(applications.get(id)).toBe(1);
      const published = await probe.ofType(ProductCreatedEvent);
      expect(published.filter((event) => ids.includes(event.payload.product?.productId ?? ""))).toHaveLength(10);
      await waitUntil(
        async () => {
          const [left] = await producer.database.rows<{ count: number }>(
            sql`select count(*)::int as count from agora_outbox where published_at is null`,
          );
          return Number(left?.count) === 0;
        },
        5000,
        "every row marked published",
      );
    } finally {
      relay.kill("SIGTERM");
      await relay.exited;
    }
  }, 60_000);

  it("keeps accepting events while NATS is down and delivers every one, in order per aggregate, once it is back", async () => {
    const relay = await startService(producerService, { ...baseEnv, DATABASE_URL: producerDb.url });
    try {
      await nats.stopServer();
      const ids = ["a", "b", "c", "d"].flatMap((group) => range(5, (i) => `down-${group}#${i}`));
      // Interleave aggregates so order per aggregate is not just insertion order by accident.
      const interleaved = range(5, (i) => ["a", "b", "c", "d"].map((group) => `down-${group}#${i}`)).flat();
      await writeEvents(producer.database, producer.outbox, interleaved);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      // The lag shows while NATS is down: 20 events waiting, the oldest for over a second.
      const during = await lagOf(relay.metricsUrl);
      expect(during.unpublished).toBe(20);
      expect(during.oldestAgeSeconds).toBeGreaterThan(1);
      await nats.startServer();
      const { applications, versions } = await waitApplied(ids);
      for (const id of ids) expect(applications.get(id)).toBe(1);
      for (const group of ["a", "b", "c", "d"]) {
        expect(versions.get(`down-${group}`)).toEqual([1, 2, 3, 4, 5]);
      }
      await waitUntil(
        async () => {
          const after = await lagOf(relay.metricsUrl);
          return after.unpublished === 0 && after.oldestAgeSeconds === 0;
        },
        5000,
        "lag back to 0",
      );
    } finally {
      await relay.stop();
    }
  }, 60_000);

  it("runs with DATABASE_POOL_SIZE=1: the relay's leader lock holds no pooled connection", async () => {
    const relay = await startService(producerService, {
      ...baseEnv,
      DATABASE_URL: producerDb.url,
      DATABASE_POOL_SIZE: "1",
    });
    try {
      // Two calls and the relay's rounds share the single pooled connection; none waits for ever.
      const client = relay.client(CatalogServiceService, { maxAttempts: 1, breaker: false, timeoutMs: 5000 });
      await client.createProduct(newProduct("pool-of-one#1"));
      await client.createProduct(newProduct("pool-of-one#2"));
      const { applications } = await waitApplied(["pool-of-one#1", "pool-of-one#2"]);
      expect(applications.get("pool-of-one#2")).toBe(1);
    } finally {
      await relay.stop();
    }
  }, 60_000);

  it("lets exactly one of two relays on one database publish: nothing twice, nothing skipped", async () => {
    const [first, second] = [
      await startService(producerService, { ...baseEnv, DATABASE_URL: producerDb.url }),
      await startService(producerService, { ...baseEnv, DATABASE_URL: producerDb.url }),
    ];
    try {
      const publishedBefore = (await probe.ofType(ProductCreatedEvent)).length;
      const ids = range(200, (i) => `pair-${i % 10}#${i}`);
      await writeEvents(producer.database, producer.outbox, ids);
      await waitApplied(ids);
      const published = await probe.ofType(ProductCreatedEvent);
      expect(published.length - publishedBefore).toBe(200);
      expect(new Set(published.map((event) => event.event.id)).size).toBe(published.length);
      const counts = await Promise.all(
        [first, second].map(async (relay) => {
          const metrics = await (await fetch(relay.metricsUrl)).text();
          return Number(/^agora_outbox_published_total\{[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0);
        }),
      );
      // Publish attempts are counted per relay: JetStream's duplicate window would hide double publishing.
      expect(counts.reduce((sum, count) => sum + count, 0)).toBe(200);
      expect(counts).toContain(0);
      const lag = await (await fetch(first.metricsUrl)).text();
      expect(lag).toMatch(/^agora_outbox_unpublished_events\{[^}]*\} 0$/m);
      expect(lag).toMatch(/^agora_outbox_oldest_unpublished_age_seconds\{[^}]*\} 0$/m);
    } finally {
      await first.stop();
      await second.stop();
    }
  }, 60_000);
});
