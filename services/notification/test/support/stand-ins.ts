import { eventTypes } from "@agora/contracts";
import type { Customer } from "@agora/contracts/agora/identity/v1/customer";
import { IdentityServiceService } from "@agora/contracts/agora/identity/v1/identity_service";
import {
  createMetricsRegistry,
  type Database,
  DomainError,
  defineService,
  EventNaming,
  eventTablesMigrations,
  NatsLink,
  NotFoundError,
  Outbox,
  OutboxRelay,
  openDatabase,
} from "@agora/service-kit";
import { createTestDatabase, type TestDatabase } from "@agora/testing";
import { status } from "@grpc/grpc-js";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { sql } from "drizzle-orm";
import pino from "pino";
import type { StoryEvent } from "./order-events";

const silent = pino({ level: "silent" });

/** Customers the stand-in identity knows, by id. */
export const knownCustomers = new Map<string, Customer>();

/**
 * A stand-in for the identity service (this test is about notification, not identity): the real
 * IdentityService contract served by the kit, answering GetCustomer from {@link knownCustomers}
 * with NOT_FOUND for anyone else. It can be stopped and started on the same port.
 */
export const standInIdentity = defineService({
  name: "identity",
  ports: { grpc: 50056, metrics: 9456 },
  setup: ({ bind }) => {
    const unimplemented = async (): Promise<never> => {
      throw new DomainError(status.UNIMPLEMENTED, "not part of the stand-in");
    };
    return {
      grpc: [
        bind(IdentityServiceService, {
          registerCustomer: unimplemented,
          login: unimplemented,
          getJwks: unimplemented,
          async getCustomer(request) {
            const customer = knownCustomers.get(request.customerId);
            if (!customer) throw new NotFoundError(`customer ${request.customerId} not found`);
            return { customer };
          },
        }),
      ],
    };
  },
});

/** An event as the kit's outbox recorded it. */
export interface RecordedEvent {
  eventId: string;
  eventType: string;
  aggregateId: string;
  envelope: Uint8Array;
  headers: Record<string, string>;
}

/**
 * The producing side of order, payment and shipping reduced to its event machinery: a database with
 * the kit's outbox and the kit's relay, so events reach JetStream exactly as the services send them.
 */
export class EventSource {
  private constructor(
    private readonly testDb: TestDatabase,
    private readonly database: Database<Record<string, never>>,
    private readonly outbox: Outbox,
    private readonly relay: OutboxRelay,
    private readonly link: NatsLink,
    private readonly naming: EventNaming,
  ) {}

  static async start(nats: { url: string; subjectPrefix: string }): Promise<EventSource> {
    const testDb = await createTestDatabase("notification_source");
    const database = await openDatabase({
      url: testDb.url,
      schema: {},
      migrations: [eventTablesMigrations],
      logger: silent,
    });
    const publishes = [...eventTypes.values()].filter((type) =>
      ["order", "payment", "shipping"].includes(type.context),
    );
    const naming = new EventNaming(nats.subjectPrefix);
    const link = new NatsLink(nats.url, "event-source", silent);
    const relay = new OutboxRelay(
      {
        service: "event-source",
        database,
        nats: link,
        naming,
        contexts: ["order", "payment", "shipping"],
        retention: { maxAgeMs: 7 * 24 * 3_600_000 },
        logger: silent,
        registry: createMetricsRegistry("event-source", "test"),
      },
      { pollIntervalMs: 50 },
    );
    await relay.start();
    return new EventSource(testDb, database, new Outbox("event-source", publishes), relay, link, naming);
  }

  /** Records events in the outbox (one transaction each); the relay publishes them. Returns them as recorded. */
  async write(events: readonly StoryEvent[]): Promise<RecordedEvent[]> {
    const ids: string[] = [];
    for (const event of events) {
      const recorded = await this.database.db.transaction((tx) =>
        this.outbox.add(tx, event.eventType, event.payload, { aggregateId: event.aggregateId }),
      );
      ids.push(recorded.eventId);
    }
    const rows = await this.database.rows<{
      event_id: string;
      event_type: string;
      aggregate_id: string;
      envelope: Uint8Array;
      headers: Record<string, string>;
    }>(sql`select event_id, event_type, aggregate_id, envelope, headers from agora_outbox order by id`);
    const byId = new Map(rows.map((row) => [row.event_id, row]));
    return ids.map((id) => {
      const row = byId.get(id);
      if (!row) throw new Error(`event ${id} not in the outbox`);
      return {
        eventId: row.event_id,
        eventType: row.event_type,
        aggregateId: row.aggregate_id,
        envelope: new Uint8Array(row.envelope),
        headers: row.headers,
      };
    });
  }

  /**
   * Publishes recorded events once more under fresh message ids, so JetStream stores and delivers
   * them again (a relay that crashed before marking, outside the duplicate window).
   */
  async republish(events: readonly RecordedEvent[]): Promise<void> {
    const { js } = await this.link.jetstream();
    for (const event of events) {
      const headers = natsHeaders();
      for (const [key, value] of Object.entries(event.headers)) headers.set(key, value);
      await js.publish(this.naming.subjectOf(event.eventType), event.envelope, {
        msgID: `${event.eventId}:again`,
        headers,
      });
    }
  }

  async stop(): Promise<void> {
    await this.relay.stop();
    await this.link.close();
    await this.database.close();
    await this.testDb.drop();
  }
}
