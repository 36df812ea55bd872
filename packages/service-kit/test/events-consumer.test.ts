import { ProductCreatedEvent } from "@agora/contracts";
import {
  createTestDatabase,
  type StartedService,
  startService,
  startTestNats,
  type TestDatabase,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection, headers as natsHeaders } from "@nats-io/transport-node";
import pino from "pino";
import postgres from "postgres";
import {
  type Database,
  EventNaming,
  ensureStream,
  listDeadLetters,
  type Outbox,
  redriveDeadLetter,
  retryDelayMs,
  streamSettings,
} from "../src";
import {
  appliedState,
  consumerService,
  failingProducts,
  openProducerDatabase,
  producerService,
  writeEvents,
} from "./support/event-test-kit";

describe("inbox-guarded consumers, retries and dead letters (real Postgres, real NATS JetStream)", () => {
  let nats: TestNats;
  let producerDb: TestDatabase;
  let consumerDb: TestDatabase;
  let producer: { database: Database<Record<string, never>>; outbox: Outbox };
  let relay: StartedService<unknown, Record<string, never>>;
  let consumer: StartedService<unknown, Record<string, never>>;
  let connection: NatsConnection;
  let naming: EventNaming;
  let env: Record<string, string>;

  beforeAll(async () => {
    nats = await startTestNats();
    [producerDb, consumerDb] = await Promise.all([
      createTestDatabase("dlq_producer"),
      createTestDatabase("dlq_consumer"),
    ]);
    producer = await openProducerDatabase(producerDb.url);
    env = { NATS_URL: nats.url, NATS_SUBJECT_PREFIX: nats.subjectPrefix, OUTBOX_POLL_INTERVAL_MS: "100" };
    relay = await startService(producerService, { ...env, DATABASE_URL: producerDb.url });
    consumer = await startService(consumerService, { ...env, DATABASE_URL: consumerDb.url });
    // The test's own connection also lives through the NATS restart below: reconnect quickly, forever.
    connection = await connect({ servers: nats.url, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
    naming = new EventNaming(nats.subjectPrefix);
  });

  afterAll(async () => {
    await connection.close();
    await consumer.stop();
    await relay.stop();
    await producer.database.close();
    await Promise.all([producerDb.drop(), consumerDb.drop()]);
    await nats.close();
  });

  const consumerDatabase = () => consumer.running.database as Database<Record<string, never>>;

  async function waitApplied(ids: string[]) {
    await waitUntil(
      async () => {
        const { applications } = await appliedState(consumerDatabase());
        return ids.every((id) => applications.has(id));
      },
      20_000,
      `applied ${ids.join(", ")}`,
    );
    return appliedState(consumerDatabase());
  }

  it("moves an event whose handler always throws to the dead letters after N attempts, keeps going, and re-drives it", async () => {
    failingProducts.add("poison");
    try {
      const behind = ["after-1", "after-2", "after-3"];
      await writeEvents(producer.database, producer.outbox, ["poison#1", ...behind]);
      // The events behind the poisoned one are applied while it is still being retried.
      const { applications } = await waitApplied(behind);
      expect(applications.has("poison#1")).toBe(false);

      const jsm = await jetstreamManager(connection);
      let letters = await listDeadLetters(jsm, naming, "consumer");
      await waitUntil(
        async () => {
          letters = await listDeadLetters(jsm, naming, "consumer");
          return letters.length === 1;
        },
        10_000,
        "one dead letter",
      );
      const [letter] = letters;
      expect(letter).toMatchObject({
        service: "consumer",
        consumer: "products",
        originalSubject: `${nats.subjectPrefix}agora.catalog.product_created`,
        attempts: 3,
        eventType: "agora.catalog.product_created",
        aggregateId: "poison",
      });
      expect(letter?.error).toMatch(/refusing poison#1 on purpose/);
      expect(letter?.originalSequence).toBeGreaterThan(0);
      expect(letter?.payload).toMatchObject({ product: { productId: "poison#1" } });

      // Fixed: re-drive it to its original subject; it is applied once and leaves the dead letters.
      failingProducts.delete("poison");
      await redriveDeadLetter(jetstream(connection), jsm, naming, letter?.sequence ?? 0);
      const after = await waitApplied(["poison#1"]);
      expect(after.applications.get("poison#1")).toBe(1);
      expect(await listDeadLetters(jsm, naming, "consumer")).toEqual([]);
    } finally {
      failingProducts.delete("poison");
    }
  }, 60_000);

  it("applies an event delivered twice only once (inbox), and acks the duplicate", async () => {
    await writeEvents(producer.database, producer.outbox, ["twice#1"]);
    await waitApplied(["twice#1"]);
    // Publish the very same envelope again under another Nats-Msg-Id, so JetStream stores it twice.
    const js = jetstream(connection);
    const consumerFor = await js.consumers.get(naming.streamOf("catalog"));
    let original: Uint8Array | undefined;
    for (;;) {
      const message = await consumerFor.next({ expires: 1000 });
      if (!message) break;
      if (message.headers?.get("Agora-Aggregate-Id") === "twice") {
        original = message.data;
        break;
      }
    }
    expect(original).toBeDefined();
    const headers = natsHeaders();
    headers.set("Agora-Aggregate-Id", "twice");
    await js.publish(naming.subjectOf(ProductCreatedEvent), original as Uint8Array, {
      msgID: "duplicate-of-twice",
      headers,
    });
    await waitUntil(
      async () => /outcome="duplicate"[^\n]* 1$/m.test(await (await fetch(consumer.metricsUrl)).text()),
      10_000,
      "duplicate counted",
    );
    const { applications } = await appliedState(consumerDatabase());
    expect(applications.get("twice#1")).toBe(1);
  }, 30_000);

  it("recovers by itself from a NATS restart", async () => {
    await nats.stopServer();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await nats.startServer();
    await writeEvents(producer.database, producer.outbox, ["restart-1", "restart-2"]);
    const { applications } = await waitApplied(["restart-1", "restart-2"]);
    expect(applications.get("restart-1")).toBe(1);
  }, 60_000);

  it("recreates its durable consumer when it was deleted", async () => {
    // After the restart test this connection may still be reconnecting (its requests would time out):
    // a flush succeeds once it is back (one sent while disconnected is rejected at the reconnect).
    await waitUntil(
      () =>
        connection.flush().then(
          () => true,
          () => false,
        ),
      15_000,
      "the test's own NATS connection is back",
    );
    const jsm = await jetstreamManager(connection);
    const durable = naming.durableName("consumer", "products");
    await jsm.consumers.delete(naming.streamOf("catalog"), durable);
    await writeEvents(producer.database, producer.outbox, ["recreated-1"]);
    await waitApplied(["recreated-1"]);
    expect((await jsm.consumers.info(naming.streamOf("catalog"), durable)).config.durable_name).toBe(durable);
  }, 60_000);
});

describe("stream provisioning", () => {
  it("creates a stream once and updates a changed setting instead of duplicating it", async () => {
    const nats = await startTestNats();
    const connection = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(connection);
      const logger = pino({ level: "silent" });
      const settings = streamSettings("AGORA_PROVISIONING", "agora.provisioning.>", { maxAgeMs: 60_000 });
      await Promise.all([ensureStream(jsm, settings, logger), ensureStream(jsm, settings, logger)]);
      await ensureStream(
        jsm,
        streamSettings("AGORA_PROVISIONING", "agora.provisioning.>", { maxAgeMs: 120_000 }),
        logger,
      );
      const streams = await jsm.streams.names().next();
      expect(streams.filter((name) => name === "AGORA_PROVISIONING")).toHaveLength(1);
      expect((await jsm.streams.info("AGORA_PROVISIONING")).config.max_age).toBe(120_000 * 1_000_000);
    } finally {
      await connection.close();
      await nats.close();
    }
  });
});

describe("inbox pruning in a consumer-only service", () => {
  it("drops inbox entries older than the retention (default: the longer of stream and dead-letter retention)", async () => {
    const nats = await startTestNats();
    const database = await createTestDatabase("inbox_prune");
    const env = { NATS_URL: nats.url, NATS_SUBJECT_PREFIX: nats.subjectPrefix, DATABASE_URL: database.url };
    try {
      // First start: migrations create the inbox. The consumer publishes nothing: no outbox relay runs.
      await (await startService(consumerService, env)).stop();
      const seed = postgres(database.url, { max: 1, onnotice: () => {} });
      const ages = {
        "31 days": "00000000-0000-4000-8000-000000000031",
        "10 days": "00000000-0000-4000-8000-000000000010",
      };
      const fresh = "00000000-0000-4000-8000-000000000001";
      const entries: Array<[string, string]> = [...Object.entries(ages), ["1 hour", fresh]];
      for (const [age, id] of entries) {
        await seed`insert into agora_processed_events (consumer, event_id, processed_at)
          values ('consumer:products', ${id}::uuid, now() - ${age}::interval)`;
      }
      const remaining = async () =>
        (await seed<{ event_id: string }[]>`select event_id from agora_processed_events order by processed_at`).map(
          (row) => row.event_id,
        );
      try {
        let consumer = await startService(consumerService, env);
        await waitUntil(async () => (await remaining()).length === 2, 10_000, "31-day-old entry pruned");
        expect(await remaining()).toEqual([ages["10 days"], fresh]);
        await consumer.stop();

        consumer = await startService(consumerService, { ...env, INBOX_RETENTION_HOURS: "48" });
        try {
          await waitUntil(async () => (await remaining()).length === 1, 10_000, "10-day-old entry pruned");
          expect(await remaining()).toEqual([fresh]);
        } finally {
          await consumer.stop();
        }
      } finally {
        await seed.end({ timeout: 1 });
      }
    } finally {
      await database.drop();
      await nats.close();
    }
  }, 60_000);
});

describe("dead-letter stream retention", () => {
  it("is its own (30 days by default, DEAD_LETTER_RETENTION_HOURS), not the events' max age, and is updated in place", async () => {
    const nats = await startTestNats();
    const database = await createTestDatabase("dlq_retention");
    const connection = await connect({ servers: nats.url });
    const hours = (count: number) => count * 3_600_000 * 1_000_000;
    try {
      const jsm = await jetstreamManager(connection);
      const naming = new EventNaming(nats.subjectPrefix);
      const env = { NATS_URL: nats.url, NATS_SUBJECT_PREFIX: nats.subjectPrefix, DATABASE_URL: database.url };
      const maxAge = async (stream: string) =>
        (await jsm.streams.info(stream).catch(() => undefined))?.config.max_age ?? -1;

      let consumer = await startService(consumerService, { ...env, EVENT_RETENTION_HOURS: "2" });
      await waitUntil(async () => (await maxAge(naming.deadLetterStream())) > 0, 10_000, "dead-letter stream");
      expect(await maxAge(naming.deadLetterStream())).toBe(hours(24 * 30));
      expect(await maxAge(naming.streamOf("catalog"))).toBe(hours(2));
      await consumer.stop();

      consumer = await startService(consumerService, { ...env, DEAD_LETTER_RETENTION_HOURS: "1000" });
      try {
        await waitUntil(
          async () => (await maxAge(naming.deadLetterStream())) === hours(1000),
          10_000,
          "dead-letter retention updated",
        );
        const names: string[] = [];
        for await (const name of jsm.streams.names()) names.push(name);
        expect(names.filter((name) => name === naming.deadLetterStream())).toHaveLength(1);
      } finally {
        await consumer.stop();
      }
    } finally {
      await connection.close();
      await database.drop();
      await nats.close();
    }
  }, 60_000);
});

describe("retryDelayMs", () => {
  it("grows exponentially from the initial delay up to the cap, with jitter", () => {
    const delay = { initialMs: 100, maxMs: 1000 };
    for (let i = 0; i < 50; i++) {
      expect(retryDelayMs(1, delay)).toBeGreaterThanOrEqual(80);
      expect(retryDelayMs(1, delay)).toBeLessThanOrEqual(120);
      expect(retryDelayMs(3, delay)).toBeGreaterThanOrEqual(320);
      expect(retryDelayMs(3, delay)).toBeLessThanOrEqual(480);
      expect(retryDelayMs(10, delay)).toBeLessThanOrEqual(1200);
    }
  });
});

describe("stopping a consumer right after it started", () => {
  it("does not hang", async () => {
    const nats = await startTestNats();
    const database = await createTestDatabase("quick_stop");
    try {
      for (let i = 0; i < 3; i++) {
        const consumer = await startService(consumerService, { NATS_URL: nats.url, DATABASE_URL: database.url });
        const stopped = consumer.stop().then(() => "stopped");
        const timeout = new Promise((resolve) => setTimeout(() => resolve("hung"), 8000));
        expect(await Promise.race([stopped, timeout])).toBe("stopped");
      }
    } finally {
      await database.drop();
      await nats.close();
    }
  }, 60_000);
});

describe("a service that needs NATS without NATS_URL", () => {
  it("refuses to start with an error naming NATS_URL", async () => {
    await expect(startService(producerService, {})).rejects.toThrow(/NATS_URL: is required: producer publishes events/);
  });
});
