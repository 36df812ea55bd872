import { randomUUID } from "node:crypto";
import type { EventType } from "@agora/contracts";
import { sql } from "drizzle-orm";
import { afterCommit, type Db, databaseOf, notifyAfterCommit, type Tx } from "../db/database";
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
  private lastNotifyAt = Number.NEGATIVE_INFINITY;
  private pendingNotify?: NodeJS.Timeout;
  /** Transactions already set to wake the relay after their commit. */
  private readonly waking = new WeakSet<object>();

  /**
   * @param notifyIntervalMs at most one NOTIFY per this interval from this process. The relay is
   * woken *after* a transaction with events commits, by a NOTIFY outside that transaction: a NOTIFY
   * takes Postgres's global notify lock from before its transaction's commit until after it, WAL
   * flush included, so transactions that notified themselves would commit one at a time, and the
   * rate limit keeps the notifying transactions themselves few. (On this project's machines, where
   * a WAL flush takes ~90 µs, 16 writers commit ~1.6–1.7k transactions/s whichever way they notify;
   * where a flush takes a millisecond or more, serialised commits cap the whole database at that
   * rate.) Only committed work counts: a rolled-back transaction wakes nobody and delays nobody, and
   * a commit inside the interval gets its wake-up at the interval's end, so every commit is followed
   * by a NOTIFY within notifyIntervalMs.
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
    const db = databaseOf(tx);
    if (!db) {
      // Not a kit transaction we can follow to its commit (a savepoint): NOTIFY inside it.
      await notifyAfterCommit(tx, outboxChannel);
    } else if (!this.waking.has(tx)) {
      this.waking.add(tx);
      afterCommit(tx, () => this.wakeRelay(db));
    }
    return { eventId, aggregateVersion };
  }

  /** After a commit: NOTIFY now, or at the end of the current interval if one was sent within it. */
  // biome-ignore lint/suspicious/noExplicitAny: any service schema
  private wakeRelay(db: Db<any>): void {
    if (this.pendingNotify) return; // a NOTIFY after this commit is already scheduled
    const send = () => {
      this.pendingNotify = undefined;
      this.lastNotifyAt = Date.now();
      // A lost NOTIFY costs latency only: the relay polls.
      db.execute(sql`select pg_notify(${outboxChannel}, '')`).catch(() => undefined);
    };
    const wait = this.lastNotifyAt + this.notifyIntervalMs - Date.now();
    if (wait <= 0) send();
    else this.pendingNotify = setTimeout(send, wait).unref();
  }
}
