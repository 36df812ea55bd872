import { randomUUID } from "node:crypto";
import type { EventType } from "@agora/contracts";
import { sql } from "drizzle-orm";
import type { Tx } from "../db/database";
import { currentRequestContext } from "../request-context";
import { traceHeaders } from "../tracing/tracing";
import { encodeEnvelope } from "./envelope";
import { eventHeaders } from "./naming";
import { aggregateVersions, outbox } from "./schema";

/** The NOTIFY channel that wakes the relay when a transaction with events commits. */
export const outboxChannel = "agora_outbox";

/** What {@link Outbox.add} recorded. */
export interface RecordedEvent {
  eventId: string;
  aggregateVersion: number;
}

/**
 * Writes events into the transactional outbox. `add` takes the transaction of the state change, so
 * the event exists exactly when the change is committed; the relay publishes it afterwards.
 */
export class Outbox {
  private readonly publishable: ReadonlySet<string>;
  private lastNotifyAt = 0;

  /**
   * @param notifyIntervalMs at most one NOTIFY per this interval from this process. A committing
   * transaction that notifies takes Postgres's global notify-queue lock through its commit, which
   * serialises such commits (and their WAL flushes); rate-limiting keeps busy writers concurrent
   * while an idle system still wakes the relay at once. Events written in between are picked up by
   * the relay's next round (it lingers briefly after a busy round and polls as a fallback).
   */
  constructor(
    private readonly producer: string,
    publishes: readonly EventType<unknown>[],
    private readonly notifyIntervalMs = 25,
  ) {
    this.publishable = new Set(publishes.map((event) => event.type));
  }

  /**
   * Records `payload` as an event of `eventType` about `aggregateId`, in `tx`. The aggregate's version
   * goes up by one per event (taken under a row lock, so events of one aggregate are numbered in
   * commit order). Trace context and correlation id of the current request travel with the event.
   */
  async add<T>(
    // biome-ignore lint/suspicious/noExplicitAny: any service schema
    tx: Tx<any>,
    eventType: EventType<T>,
    payload: T,
    about: { aggregateId: string; occurredAt?: Date },
  ): Promise<RecordedEvent> {
    if (!this.publishable.has(eventType.type)) {
      throw new Error(`${this.producer} does not declare ${eventType.type} in events.publishes`);
    }
    const [row] = await tx
      .insert(aggregateVersions)
      .values({ aggregateType: eventType.aggregateType, aggregateId: about.aggregateId, version: 1 })
      .onConflictDoUpdate({
        target: [aggregateVersions.aggregateType, aggregateVersions.aggregateId],
        set: { version: sql`${aggregateVersions.version} + 1` },
      })
      .returning({ version: aggregateVersions.version });
    const aggregateVersion = row?.version ?? 1;
    const eventId = randomUUID();
    const correlationId = currentRequestContext()?.correlationId ?? eventId;
    const envelope = encodeEnvelope(eventType, payload, {
      eventId,
      type: eventType.type,
      occurredAt: about.occurredAt ?? new Date(),
      aggregateType: eventType.aggregateType,
      aggregateId: about.aggregateId,
      aggregateVersion,
      correlationId,
      producer: this.producer,
    });
    await tx.insert(outbox).values({
      eventId,
      eventType: eventType.type,
      aggregateType: eventType.aggregateType,
      aggregateId: about.aggregateId,
      aggregateVersion,
      envelope,
      headers: {
        ...traceHeaders(),
        [eventHeaders.eventType]: eventType.type,
        [eventHeaders.aggregateId]: about.aggregateId,
        [eventHeaders.aggregateVersion]: String(aggregateVersion),
        [eventHeaders.correlationId]: correlationId,
        [eventHeaders.producer]: this.producer,
      },
    });
    // Delivered when (and only if) the transaction commits.
    const now = Date.now();
    if (now - this.lastNotifyAt >= this.notifyIntervalMs) {
      this.lastNotifyAt = now;
      await tx.execute(sql`select pg_notify(${outboxChannel}, '')`);
    }
    return { eventId, aggregateVersion };
  }
}
