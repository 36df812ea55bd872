import type { EventType } from "@agora/contracts";
import {
  createMetricsRegistry,
  type Database,
  EventNaming,
  eventHeaders,
  eventTablesMigrations,
  NatsLink,
  Outbox,
  OutboxRelay,
  openDatabase,
  type RecordedEvent,
} from "@agora/service-kit";
import { headers as natsHeaders } from "@nats-io/transport-node";
import pino from "pino";
import postgres from "postgres";
import { waitUntil } from "./service-process";
import { createTestDatabase, type TestDatabase } from "./test-database";

/** What {@link TestEventProducer.start} needs. */
export interface TestEventProducerOptions {
  /** The test's NATS server (from startTestNats). */
  nats: { url: string; subjectPrefix: string };
  /** Name of the service the events pretend to come from, e.g. "order"; the envelope's producer. */
  producer: string;
  /** Event types it may publish (their contexts' streams are created on start). */
  publishes: readonly EventType<unknown>[];
}

/**
 * Publishes events for a test the way a real service does: each event is written to an outbox table
 * (in a database of its own) inside a transaction and published to JetStream by the kit's
 * {@link OutboxRelay}, with the envelope, headers and Nats-Msg-Id of production. Use it to drive a
 * consumer with events of a service that is not under test (order.confirmed for shipping, say).
 */
export class TestEventProducer {
  private redeliveries = 0;

  private constructor(
    private readonly testDatabase: TestDatabase,
    private readonly database: Database<Record<string, never>>,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
    private readonly nats: NatsLink,
    private readonly naming: EventNaming,
    private readonly sql: postgres.Sql,
  ) {}

  /** Creates the producer's database, starts its relay, and returns once it can publish. */
  static async start(options: TestEventProducerOptions): Promise<TestEventProducer> {
    const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "warn" });
    const testDatabase = await createTestDatabase(`${options.producer}_producer`);
    const database = await openDatabase<Record<string, never>>({
      url: testDatabase.url,
      schema: {},
      migrations: [eventTablesMigrations],
      logger,
      poolSize: 2,
    });
    const naming = new EventNaming(options.nats.subjectPrefix);
    const nats = new NatsLink(options.nats.url, `${options.producer}-test-producer`, logger);
    const relay = new OutboxRelay(
      {
        service: options.producer,
        database: database as Database<Record<string, unknown>>,
        nats,
        naming,
        contexts: [...new Set(options.publishes.map((event) => event.context))],
        retention: { maxAgeMs: 3_600_000 },
        logger,
        registry: createMetricsRegistry(`${options.producer}-test-producer`, "test"),
      },
      { pollIntervalMs: 50 },
    );
    await relay.start();
    return new TestEventProducer(
      testDatabase,
      database,
      new Outbox(options.producer, options.publishes),
      relay,
      nats,
      naming,
      postgres(testDatabase.url, { max: 1, onnotice: () => {} }),
    );
  }

  /** Writes the event through the outbox and resolves once the relay has published it. */
  async publish<T>(
    eventType: EventType<T>,
    payload: T,
    about: { aggregateId: string; occurredAt?: Date },
  ): Promise<RecordedEvent> {
    const recorded = await this.database.db.transaction((tx) => this.outbox.add(tx, eventType, payload, about));
    await waitUntil(
      async () => (await this.storedEvent(recorded.eventId)).published,
      10_000,
      `${eventType.type} ${recorded.eventId} published`,
    );
    return recorded;
  }

  /**
   * Publishes an already published event again, byte for byte, under a fresh Nats-Msg-Id so JetStream
   * does not drop it as a duplicate: what a consumer sees when a producer republishes after its dedupe
   * window or a broker redelivers. Consumers must apply it once (their inbox skips it).
   */
  async redeliver(eventId: string): Promise<void> {
    const stored = await this.storedEvent(eventId);
    const headers = natsHeaders();
    for (const [key, value] of Object.entries(stored.headers)) headers.set(key, value);
    const { js } = await this.nats.jetstream();
    this.redeliveries++;
    await js.publish(
      this.naming.subjectOf(stored.headers[eventHeaders.eventType] ?? stored.eventType),
      stored.envelope,
      {
        msgID: `${eventId}:redelivery:${this.redeliveries}`,
        headers,
        timeout: 5000,
      },
    );
  }

  /** Stops the relay and drops the producer's database. */
  async close(): Promise<void> {
    await this.relay.stop();
    await this.nats.close();
    await this.sql.end({ timeout: 1 });
    await this.database.close();
    await this.testDatabase.drop();
  }

  private async storedEvent(eventId: string): Promise<{
    eventType: string;
    envelope: Uint8Array;
    headers: Record<string, string>;
    published: boolean;
  }> {
    const [row] = await this.sql<
      { event_type: string; envelope: Uint8Array; headers: Record<string, string>; published: boolean }[]
    >`select event_type, envelope, headers, published_at is not null as published
      from agora_outbox where event_id = ${eventId}`;
    if (!row) throw new Error(`event ${eventId} is not in the producer's outbox`);
    return { eventType: row.event_type, envelope: row.envelope, headers: row.headers, published: row.published };
  }
}
