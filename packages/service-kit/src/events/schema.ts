import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  customType,
  index,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";

const bytea = customType<{ data: Uint8Array; driverData: Uint8Array }>({
  dataType: () => "bytea",
  toDriver: (value) => Buffer.from(value.buffer, value.byteOffset, value.byteLength),
  fromDriver: (value) => new Uint8Array(value),
});

/**
 * The transactional outbox: events written in the same transaction as the state change they report,
 * published to JetStream by the relay in id order, then marked published and later pruned.
 */
export const outbox = pgTable(
  "agora_outbox",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    eventId: uuid("event_id").notNull().unique(),
    eventType: text("event_type").notNull(),
    aggregateType: text("aggregate_type").notNull(),
    aggregateId: text("aggregate_id").notNull(),
    aggregateVersion: bigint("aggregate_version", { mode: "number" }).notNull(),
    /** The encoded agora.common.v1.EventEnvelope, published as the message body. */
    envelope: bytea("envelope").notNull(),
    /** NATS headers to send: trace context, correlation id. */
    headers: jsonb("headers").$type<Record<string, string>>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    publishedAt: timestamp("published_at", { withTimezone: true, mode: "date" }),
  },
  (table) => [
    index("agora_outbox_unpublished_idx").on(table.id).where(sql`${table.publishedAt} is null`),
    index("agora_outbox_published_at_idx").on(table.publishedAt),
  ],
);

/** The current version of each aggregate that has published events (versions increase by one per event). */
export const aggregateVersions = pgTable(
  "agora_aggregate_versions",
  {
    aggregateType: text("aggregate_type").notNull(),
    aggregateId: text("aggregate_id").notNull(),
    version: bigint("version", { mode: "number" }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.aggregateType, table.aggregateId] })],
);

/** The inbox: events a consumer has applied, recorded in the same transaction as their effect. */
export const processedEvents = pgTable(
  "agora_processed_events",
  {
    consumer: text("consumer").notNull(),
    eventId: uuid("event_id").notNull(),
    processedAt: timestamp("processed_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [
    primaryKey({ columns: [table.consumer, table.eventId] }),
    index("agora_processed_events_processed_at_idx").on(table.processedAt),
  ],
);
