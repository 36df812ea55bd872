import { eventTypes } from "@agora/contracts";
import {
  createMetricsRegistry,
  type Database,
  EventNaming,
  ensureStream,
  eventTablesMigrations,
  NatsLink,
  Outbox,
  OutboxRelay,
  openDatabase,
  streamSettings,
} from "@agora/service-kit";
import { createTestDatabase, type TestDatabase } from "@agora/testing";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { sql } from "drizzle-orm";
import pino from "pino";
import type { StoryStep } from "./order-stories";

const silent = pino({ level: "silent" });
const allEventTypes = [...eventTypes.values()].filter((type) =>
  ["order", "payment", "shipping"].includes(type.context),
);

/** Where a test's NATS lives. */
export interface NatsTarget {
  url: string;
  subjectPrefix: string;
}

/** An event as the kit's outbox recorded it: the exact bytes a service publishes. */
export interface RecordedRow {
  eventId: string;
  eventType: string;
  aggregateId: string;
  aggregateVersion: number;
  envelope: Uint8Array;
  headers: Record<string, string>;
}

async function openProducerDatabase(
  label: string,
): Promise<{ testDb: TestDatabase; database: Database<Record<string, never>> }> {
  const testDb = await createTestDatabase(label);
  const database = await openDatabase({
    url: testDb.url,
    schema: {},
    migrations: [eventTablesMigrations],
    logger: silent,
  });
  return { testDb, database };
}

async function record(database: Database<Record<string, never>>, outbox: Outbox, steps: readonly StoryStep[]) {
  for (const step of steps) {
    await database.db.transaction((tx) =>
      outbox.add(tx, step.eventType, step.payload, { aggregateId: step.aggregateId, occurredAt: step.occurredAt }),
    );
  }
}

/**
 * A producing service reduced to its event machinery: its own database with the kit's outbox, and
 * the kit's relay publishing to JetStream — events leave exactly as the order, payment and shipping
 * services send them.
 */
export class RelayedProducer {
  private constructor(
    readonly name: string,
    private readonly testDb: TestDatabase,
    private readonly database: Database<Record<string, never>>,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
    private readonly link: NatsLink,
  ) {}

  /** A producer named like a service ("order") publishing that context's events. */
  static async start(name: "order" | "payment" | "shipping", nats: NatsTarget): Promise<RelayedProducer> {
    const { testDb, database } = await openProducerDatabase(`history_${name}`);
    const publishes = allEventTypes.filter((type) => type.context === name);
    const link = new NatsLink(nats.url, name, silent);
    const relay = new OutboxRelay(
      {
        service: name,
        database,
        nats: link,
        naming: new EventNaming(nats.subjectPrefix),
        contexts: [name],
        retention: { maxAgeMs: 7 * 24 * 3_600_000 },
        logger: silent,
        registry: createMetricsRegistry(name, "test"),
      },
      { pollIntervalMs: 50 },
    );
    await relay.start();
    return new RelayedProducer(name, testDb, database, new Outbox(name, publishes), relay, link);
  }

  /** Records the steps in the outbox, one transaction each, in the order given; the relay publishes them. */
  write(steps: readonly StoryStep[]): Promise<void> {
    return record(this.database, this.outbox, steps);
  }

  async stop(): Promise<void> {
    await this.relay.stop();
    await this.link.close();
    await this.database.close();
    await this.testDb.drop();
  }
}

/**
 * An outbox without a relay: records events exactly like a service, then lets the test publish the
 * recorded envelopes in any order and as often as it likes (what reordering and redelivery after the
 * JetStream duplicate window look like to a consumer).
 */
export class HeldProducer {
  private constructor(
    private readonly testDb: TestDatabase,
    private readonly database: Database<Record<string, never>>,
    private readonly outbox: Outbox,
    private readonly link: NatsLink,
    private readonly naming: EventNaming,
  ) {}

  static async open(nats: NatsTarget): Promise<HeldProducer> {
    const { testDb, database } = await openProducerDatabase("history_held");
    const naming = new EventNaming(nats.subjectPrefix);
    const link = new NatsLink(nats.url, "held-producer", silent);
    const { jsm } = await link.jetstream();
    for (const context of ["order", "payment", "shipping"]) {
      await ensureStream(
        jsm,
        streamSettings(naming.streamOf(context), naming.subjectsOf(context), { maxAgeMs: 7 * 24 * 3_600_000 }),
        silent,
      );
    }
    return new HeldProducer(testDb, database, new Outbox("held", allEventTypes), link, naming);
  }

  /** Records the steps (in causal order, so versions come out as in production) and returns the rows. */
  async write(steps: readonly StoryStep[]): Promise<RecordedRow[]> {
    const [before] = await this.database.rows<{ id: number }>(
      sql`select coalesce(max(id), 0)::int as id from agora_outbox`,
    );
    await record(this.database, this.outbox, steps);
    const rows = await this.database.rows<{
      event_id: string;
      event_type: string;
      aggregate_id: string;
      aggregate_version: number;
      envelope: Uint8Array;
      headers: Record<string, string>;
    }>(sql`select event_id, event_type, aggregate_id, aggregate_version, envelope, headers
           from agora_outbox where id > ${before?.id ?? 0} order by id`);
    return rows.map((row) => ({
      eventId: row.event_id,
      eventType: row.event_type,
      aggregateId: row.aggregate_id,
      aggregateVersion: Number(row.aggregate_version),
      envelope: new Uint8Array(row.envelope),
      headers: row.headers,
    }));
  }

  /**
   * Publishes recorded envelopes in the order given. `again` republishes under a fresh message id,
   * so JetStream stores it a second time (as after a relay crash outside the duplicate window).
   */
  async publish(rows: readonly RecordedRow[], options: { again?: boolean } = {}): Promise<void> {
    const { js } = await this.link.jetstream();
    for (const row of rows) {
      const headers = natsHeaders();
      for (const [key, value] of Object.entries(row.headers)) headers.set(key, value);
      await js.publish(this.naming.subjectOf(row.eventType), row.envelope, {
        msgID: options.again ? `${row.eventId}:again` : row.eventId,
        headers,
      });
    }
  }

  async close(): Promise<void> {
    await this.link.close();
    await this.database.close();
    await this.testDb.drop();
  }
}
