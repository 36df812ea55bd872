import {
  type Database,
  decodeEnvelope,
  type EventNaming,
  type NatsLink,
  type Tx,
  unpackPayload,
} from "@agora/service-kit";
import { sql } from "drizzle-orm";
import type { Logger } from "pino";
import { orderViewsRebuild } from "./db/schema";
import type { ViewEvent } from "./projection";
import { projectedEventsByType, sourceContexts } from "./view-events";
import type { ViewSchema, ViewStore } from "./view-store";

/** Advisory lock that keeps two rebuilds from running at once against one database. */
const REBUILD_LOCK_ID = 7_482_058;

type JetStream = Awaited<ReturnType<NatsLink["jetstream"]>>;
type OrderedConsumer = Awaited<ReturnType<JetStream["js"]["consumers"]["get"]>>;

/** What a rebuild did. */
export interface RebuildResult {
  /** Events read from the streams. */
  readonly eventsRead: number;
  /** Events applied to views (the rest were of other types or named no order). */
  readonly eventsApplied: number;
  /** Views in the new live table. */
  readonly views: number;
  /** Per stream, the last sequence included. */
  readonly streams: Readonly<Record<string, number>>;
  readonly durationMs: number;
}

/** Dependencies of {@link rebuildViews}. */
export interface RebuildDeps {
  database: Database<ViewSchema>;
  store: ViewStore;
  nats: NatsLink;
  naming: EventNaming;
  logger: Logger;
  /** Events per read and per transaction. Default 500. */
  batchSize?: number;
  /** Test seam: runs after the catch-up, right before the swap transaction. */
  beforeSwap?: () => Promise<void>;
}

/**
 * Reads one stream from its first stored event with an ordered consumer (ephemeral, no acks, no
 * effect on the live durable consumers), remembering how far it got so it can continue later.
 */
class StreamReader {
  private consumer?: OrderedConsumer;
  position = 0;
  read = 0;
  applied = 0;

  constructor(
    readonly stream: string,
    private readonly jetstream: JetStream,
    private readonly batchSize: number,
    private readonly logger: Logger,
  ) {}

  /** The stream's last sequence now (0 when it does not exist yet). */
  async lastSequence(): Promise<number> {
    const info = await this.jetstream.jsm.streams.info(this.stream).catch((error: unknown) => {
      if (error instanceof Error && /stream not found/i.test(error.message)) return undefined;
      throw error;
    });
    return info?.state.last_seq ?? 0;
  }

  /** Reads every stored event up to sequence `target`, handing the view events over batch by batch. */
  async readUpTo(target: number, apply: (events: ViewEvent[]) => Promise<void>): Promise<void> {
    let emptyRounds = 0;
    while (this.position < target) {
      this.consumer ??= await this.jetstream.js.consumers.get(this.stream, { deliver_policy: "all" });
      const wanted = Math.min(this.batchSize, target - this.position);
      const messages = await this.consumer.fetch({ max_messages: wanted, expires: 2000 });
      const batch: ViewEvent[] = [];
      let got = 0;
      for await (const message of messages) {
        got++;
        this.read++;
        this.position = message.seq;
        const event = this.decode(message.data, message.seq);
        if (event) batch.push(event);
      }
      if (batch.length > 0) {
        await apply(batch);
        this.applied += batch.length;
      }
      if (got > 0) {
        emptyRounds = 0;
        continue;
      }
      // Nothing came: the rest may have aged out of the stream (max age) meanwhile.
      const info = await this.jetstream.jsm.streams.info(this.stream);
      if (info.state.messages === 0 || info.state.first_seq > target || info.state.last_seq <= this.position) return;
      if (++emptyRounds >= 5) {
        throw new Error(`${this.stream}: no events after sequence ${this.position} although it reports ${target}`);
      }
    }
  }

  /** The view event in a message, or undefined for events the view does not follow. */
  private decode(data: Uint8Array, sequence: number): ViewEvent | undefined {
    try {
      const envelope = decodeEnvelope(data);
      const projection = projectedEventsByType.get(envelope.type);
      if (!projection) return undefined;
      const payload = unpackPayload(projection.eventType, envelope.payload);
      return projection.toViewEvent(payload, {
        id: envelope.eventId,
        type: envelope.type,
        occurredAt: envelope.occurredAt ?? new Date(0),
        aggregateVersion: envelope.aggregateVersion,
      });
    } catch (error) {
      // The live consumer dead-letters such an event, so it is not in the live view either.
      this.logger.warn({ stream: this.stream, sequence, err: error }, "skipping an undecodable event");
      return undefined;
    }
  }
}

/**
 * Rebuilds every order view from the event streams (order, payment, shipping), while the service
 * keeps serving and consuming:
 *
 * 1. empties `order_views_rebuild` and replays each stream from its first stored event into it,
 *    twice (the second pass picks up what arrived during the first, so little is left for step 2);
 * 2. in one transaction: locks both view tables (live consumers and readers wait), replays the
 *    events that arrived since, then swaps the two tables' names (with their keys and indexes) and
 *    empties the old one.
 *
 * Nothing is lost: every event a live consumer applied before the lock is in a stream, so the tail
 * includes it; every event a consumer applies after the lock lands in the new table (Postgres
 * resolves the table name again once the lock is released), and applying an event twice changes
 * nothing. The result equals the live view for every event the streams still hold: events older
 * than EVENT_RETENTION_HOURS are gone from JetStream, and so are the views built only from them.
 */
export async function rebuildViews(deps: RebuildDeps): Promise<RebuildResult> {
  const started = Date.now();
  const { database, store, logger } = deps;
  const lock = await database.tryLock(REBUILD_LOCK_ID);
  if (!lock) throw new Error("another rebuild is running against this database");
  try {
    const jetstream = await deps.nats.jetstream();
    const readers = sourceContexts.map(
      (context) => new StreamReader(deps.naming.streamOf(context), jetstream, deps.batchSize ?? 500, logger),
    );
    const applyTo = (tx: Tx<ViewSchema>) => async (events: ViewEvent[]) => {
      await store.apply(tx, orderViewsRebuild, events);
    };
    const applyInOwnTransaction = async (events: ViewEvent[]) => {
      await database.db.transaction((tx) => applyTo(tx)(events));
    };

    await database.rows(sql`truncate order_views_rebuild`);
    for (let pass = 1; pass <= 2; pass++) {
      for (const reader of readers) await reader.readUpTo(await reader.lastSequence(), applyInOwnTransaction);
      logger.info({ pass, streams: Object.fromEntries(readers.map((r) => [r.stream, r.position])) }, "replayed");
    }
    await deps.beforeSwap?.();

    await database.db.transaction(async (tx) => {
      await tx.execute(sql`lock table order_views, order_views_rebuild in access exclusive mode`);
      for (const reader of readers) await reader.readUpTo(await reader.lastSequence(), applyTo(tx));
      for (const statement of swapStatements) await tx.execute(sql.raw(statement));
      await tx.execute(sql`truncate order_views_rebuild`);
    });

    const [count] = await database.rows<{ views: number }>(sql`select count(*)::int as views from order_views`);
    const result: RebuildResult = {
      eventsRead: readers.reduce((sum, reader) => sum + reader.read, 0),
      eventsApplied: readers.reduce((sum, reader) => sum + reader.applied, 0),
      views: Number(count?.views ?? 0),
      streams: Object.fromEntries(readers.map((reader) => [reader.stream, reader.position])),
      durationMs: Date.now() - started,
    };
    logger.info(result, "order views rebuilt and swapped in");
    return result;
  } finally {
    await lock.release();
  }
}

/** Swaps the names of the live and the rebuilt view table, their primary keys and their indexes. */
const swapStatements = [
  "alter table order_views rename to order_views_swap",
  "alter table order_views_rebuild rename to order_views",
  "alter table order_views_swap rename to order_views_rebuild",
  "alter table order_views_rebuild rename constraint order_views_pkey to order_views_swap_pkey",
  "alter table order_views rename constraint order_views_rebuild_pkey to order_views_pkey",
  "alter table order_views_rebuild rename constraint order_views_swap_pkey to order_views_rebuild_pkey",
  "alter index order_views_customer_idx rename to order_views_swap_customer_idx",
  "alter index order_views_rebuild_customer_idx rename to order_views_customer_idx",
  "alter index order_views_swap_customer_idx rename to order_views_rebuild_customer_idx",
];
