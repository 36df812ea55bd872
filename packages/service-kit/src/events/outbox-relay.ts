import { setTimeout as sleep } from "node:timers/promises";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { asc, inArray, isNull, lt, sql } from "drizzle-orm";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Database, SessionLock } from "../db/database";
import type { EventNaming } from "./naming";
import type { NatsLink } from "./nats-link";
import { outboxChannel } from "./outbox";
import { outbox } from "./schema";
import { ensureStream, type StreamRetention, streamSettings } from "./streams";

/** Relay settings. */
export interface OutboxRelayOptions {
  /** Rows published per round. Default 200. */
  batchSize?: number;
  /** Polling interval when no NOTIFY arrives. Default 1000 ms. */
  pollIntervalMs?: number;
  /**
   * After a round that published something, wait this long before the next one (more events are
   * likely coming and writers rate-limit their NOTIFYs): batches a busy stream into ≤ 1000/lingerMs
   * rounds per second instead of a round per event. Default 50 ms.
   */
  lingerMs?: number;
  /** How long published rows are kept before pruning. Default 24 h. (The inbox has its own pruner.) */
  outboxRetentionMs?: number;
  /** Test seam: "outbox-exit-after-publish" exits the process after publishing, before marking rows. */
  failpoint?: string;
}

/** Advisory lock id of the relay: one leader per database. */
const RELAY_LOCK_ID = 7_482_002;

/**
 * Publishes the outbox to JetStream. One replica per database is the leader (an advisory lock held on
 * a session of its own); it wakes on NOTIFY, polls as a fallback, publishes rows in id order (commit
 * order per aggregate) with Nats-Msg-Id = event id so JetStream drops a republished duplicate, marks
 * them published, backs off while NATS is down, and prunes published rows after a day.
 */
export class OutboxRelay {
  readonly name = "outbox-relay";
  private running = false;
  /** Aborted by stop(): ends a wait for NATS (which may never come while the broker is down). */
  private stopping = new AbortController();
  private loop?: Promise<void>;
  private lock?: SessionLock;
  private wake?: () => void;
  private unlisten?: () => Promise<void>;
  private streamsReady = false;
  private lastPrune = 0;
  private readonly published: Counter;
  private readonly failures: Counter;
  private readonly options: Required<Omit<OutboxRelayOptions, "failpoint">> & { failpoint?: string };

  constructor(
    private readonly deps: {
      service: string;
      database: Database<Record<string, unknown>>;
      nats: NatsLink;
      naming: EventNaming;
      /** Contexts whose streams this service publishes to. */
      contexts: readonly string[];
      retention: StreamRetention;
      logger: Logger;
      registry: Registry;
    },
    options: OutboxRelayOptions = {},
  ) {
    this.options = {
      batchSize: options.batchSize ?? 200,
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      lingerMs: options.lingerMs ?? 50,
      outboxRetentionMs: options.outboxRetentionMs ?? 24 * 3_600_000,
      failpoint: options.failpoint,
    };
    const { registry, database } = deps;
    this.published = new Counter({
      name: "agora_outbox_published_total",
      help: "Events the relay published to JetStream.",
      registers: [registry],
    });
    this.failures = new Counter({
      name: "agora_outbox_publish_failures_total",
      help: "Failed publish rounds (NATS down or refusing).",
      registers: [registry],
    });
    new Gauge({
      name: "agora_outbox_unpublished_events",
      help: "Events committed but not yet published.",
      registers: [registry],
      async collect() {
        const [row] = await database.rows<{ count: number }>(
          sql`select count(*)::int as count from agora_outbox where published_at is null`,
        );
        this.set(Number(row?.count ?? 0));
      },
    });
    new Gauge({
      name: "agora_outbox_oldest_unpublished_age_seconds",
      help: "Age of the oldest unpublished event (0 when none): the relay's lag.",
      registers: [registry],
      async collect() {
        const [row] = await database.rows<{ age: number }>(
          sql`select coalesce(extract(epoch from now() - min(created_at)), 0)::float8 as age
              from agora_outbox where published_at is null`,
        );
        this.set(Number(row?.age ?? 0));
      },
    });
  }

  async start(): Promise<void> {
    this.running = true;
    this.stopping = new AbortController();
    this.unlisten = await this.deps.database.listen(outboxChannel, () => this.wake?.());
    this.loop = this.run();
  }

  /**
   * Stops after a last round (publishing what is committed if NATS is up), then gives up leadership.
   * With NATS unreachable it stops at once: the rows stay unpublished for the next leader.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    this.wake?.();
    await this.loop;
    if (this.lock) {
      const held = await this.lock.stillHeld();
      if (held && this.deps.nats.isConnected()) await this.publishRound().catch(() => 0);
      await this.lock.release();
      this.lock = undefined;
    }
    await this.unlisten?.();
  }

  private async pause(ms: number): Promise<void> {
    const controller = new AbortController();
    this.wake = () => controller.abort();
    await sleep(ms, undefined, { signal: controller.signal }).catch(() => undefined);
    this.wake = undefined;
  }

  private async run(): Promise<void> {
    let backoff = 100;
    let rounds = 0;
    while (this.running) {
      try {
        if (!(await this.lead())) {
          await this.pause(Math.max(this.options.pollIntervalMs, 2000));
          continue;
        }
        if (!this.streamsReady) await this.ensureStreams();
        const count = await this.publishRound();
        backoff = 100;
        if (++rounds % 50 === 0 || Date.now() - this.lastPrune > 10 * 60_000) await this.prune();
        // A full batch: go again at once. Some rows: linger briefly, more are likely on their way
        // (writers rate-limit their NOTIFYs). None: wait for a NOTIFY or the polling interval.
        if (count === 0) await this.pause(this.options.pollIntervalMs);
        else if (count < this.options.batchSize) await this.pause(this.options.lingerMs);
      } catch (error) {
        if (!this.running) break;
        this.failures.inc();
        this.deps.logger.warn({ err: error, retry_ms: backoff }, "outbox relay: publishing failed; retrying");
        await this.pause(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  /** True while this replica holds the relay lock (taking it when free). */
  private async lead(): Promise<boolean> {
    if (this.lock && !(await this.lock.stillHeld())) {
      this.deps.logger.warn("outbox relay: lost the leader lock");
      this.lock = undefined;
    }
    if (!this.lock) {
      this.lock = await this.deps.database.tryLock(RELAY_LOCK_ID);
      if (this.lock) this.deps.logger.info("outbox relay: this replica is the leader");
    }
    return this.lock !== undefined;
  }

  private async ensureStreams(): Promise<void> {
    const { jsm } = await this.deps.nats.jetstream(this.stopping.signal);
    for (const context of this.deps.contexts) {
      const { naming, retention, logger } = this.deps;
      await ensureStream(jsm, streamSettings(naming.streamOf(context), naming.subjectsOf(context), retention), logger);
    }
    this.streamsReady = true;
  }

  /** Publishes one batch in id order; marks what was published even when a later publish failed. */
  private async publishRound(): Promise<number> {
    const { db } = this.deps.database;
    const rows = await db
      .select({
        id: outbox.id,
        eventId: outbox.eventId,
        eventType: outbox.eventType,
        envelope: outbox.envelope,
        headers: outbox.headers,
      })
      .from(outbox)
      .where(isNull(outbox.publishedAt))
      .orderBy(asc(outbox.id))
      .limit(this.options.batchSize);
    if (rows.length === 0) return 0;
    // The final round at stop() runs only when connected, so this wait cannot outlive the stop.
    const { js } = await this.deps.nats.jetstream(this.running ? this.stopping.signal : undefined);
    const done: number[] = [];
    try {
      for (const row of rows) {
        const headers = natsHeaders();
        for (const [key, value] of Object.entries(row.headers)) headers.set(key, value);
        await js.publish(this.deps.naming.subjectOf(row.eventType), row.envelope, {
          msgID: row.eventId,
          headers,
          timeout: 5000,
        });
        done.push(row.id);
        if (this.options.failpoint === "outbox-exit-after-publish") {
          this.deps.logger.warn({ event_id: row.eventId }, "failpoint: exiting after publish, before marking");
          process.exit(86);
        }
      }
    } finally {
      if (done.length > 0) {
        await db.update(outbox).set({ publishedAt: new Date() }).where(inArray(outbox.id, done));
        this.published.inc(done.length);
      }
    }
    return done.length;
  }

  private async prune(): Promise<void> {
    this.lastPrune = Date.now();
    const { db } = this.deps.database;
    await db.delete(outbox).where(lt(outbox.publishedAt, new Date(Date.now() - this.options.outboxRetentionMs)));
  }
}
