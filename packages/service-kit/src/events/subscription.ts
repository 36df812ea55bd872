import { setTimeout as sleep } from "node:timers/promises";
import type { EventType } from "@agora/contracts";
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { context as otelContext, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import type { Logger } from "pino";
import { Counter, Histogram, type Registry } from "prom-client";
import type { Database, Tx } from "../db/database";
import { latencyBuckets } from "../metrics";
import { runWithRequestContext } from "../request-context";
import { contextFromHeaders } from "../tracing/tracing";
import { decodeEnvelope, type ReceivedEvent, unpackPayload } from "./envelope";
import { type EventNaming, eventHeaders } from "./naming";
import type { NatsLink } from "./nats-link";
import { processedEvents } from "./schema";
import { ensureStream, type StreamRetention, streamSettings } from "./streams";

/** Dead letters are kept 30 days unless configured (DEAD_LETTER_RETENTION_HOURS). */
export const defaultDeadLetterRetention: StreamRetention = { maxAgeMs: 30 * 24 * 3_600_000 };

/** Thrown by a handler for an event that can never be applied: it goes to the dead letters at once. */
export class PermanentEventError extends Error {
  override name = "PermanentEventError";
}

/** Handles one event type inside the transaction that also records it in the inbox. */
export interface EventHandler<S extends Record<string, unknown>> {
  readonly eventType: EventType<unknown>;
  handle(payload: unknown, event: ReceivedEvent, tx: Tx<S>): Promise<void>;
}

/** Pairs an event type with the function that applies it. */
export function on<T, S extends Record<string, unknown> = Record<string, never>>(
  eventType: EventType<T>,
  handle: (payload: T, event: ReceivedEvent, tx: Tx<S>) => Promise<void>,
): EventHandler<S> {
  return { eventType: eventType as EventType<unknown>, handle: handle as EventHandler<S>["handle"] };
}

/** A durable consumer of one publishing context's stream. */
export interface SubscriptionOptions<S extends Record<string, unknown>> {
  /** Name within the service, e.g. "order-events"; the durable is "<service>-<name>". */
  name: string;
  /** Handlers, all for events of one context (one stream). Events without a handler are acked and skipped. */
  handlers: readonly EventHandler<S>[];
  /** Deliveries before an event goes to the dead letters. Default 5. */
  maxAttempts?: number;
  /** Redelivery delay after a failure: initialMs × 2^(attempt−1), capped at maxMs, with jitter. */
  retryDelay?: { initialMs: number; maxMs: number };
  /** Events handled at once; events of one aggregate are always handled one after another. Default 16. */
  concurrency?: number;
  /** Where a new durable starts: every stored event (default) or only new ones. */
  startAt?: "all" | "new";
}

/** The delay before redelivery number `attempt + 1` (exponential, capped, ±20 % jitter). */
export function retryDelayMs(attempt: number, delay: { initialMs: number; maxMs: number }): number {
  const base = Math.min(delay.maxMs, delay.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

function headerRecord(message: JsMsg): Record<string, string> {
  const record: Record<string, string> = {};
  if (!message.headers) return record;
  for (const key of message.headers.keys()) record[key] = message.headers.get(key);
  return record;
}

/**
 * An inbox-guarded JetStream consumer: each event is applied in a database transaction that also
 * records its id in `agora_processed_events`, so a redelivered event is acked and skipped; the ack is
 * sent only after commit. Failures are retried with nak(delay) computed here (server backoff does not
 * apply to nak); after the last attempt the event goes to the dead-letter stream with its original
 * subject, sequence, attempts and error, and is terminated. Events of one aggregate are handled one at
 * a time, but a nak'd event's aggregate goes on with its later events meanwhile (holding them back
 * would let one failing aggregate occupy the consumer), so handlers whose result depends on order
 * compare the aggregate version. The consumer recreates itself after a
 * NATS restart, a deleted consumer or stream, or missed heartbeats.
 */
export class EventSubscription<S extends Record<string, unknown>> {
  readonly name: string;
  private readonly handlers = new Map<string, EventHandler<S>>();
  private readonly context: string;
  private readonly durable: string;
  private readonly inboxKey: string;
  private readonly maxAttempts: number;
  private readonly retryDelay: { initialMs: number; maxMs: number };
  private readonly concurrency: number;
  private running = false;
  /** Aborted by stop(): ends a wait for NATS and the pause between attempts to (re)create the consumer. */
  private stopping = new AbortController();
  private loop?: Promise<void>;
  private messages?: ConsumerMessages;
  private readonly outcomes: Counter<"consumer" | "event_type" | "outcome">;
  private readonly handling: Histogram<"consumer" | "event_type">;

  constructor(
    private readonly deps: {
      service: string;
      database: Database<S>;
      nats: NatsLink;
      naming: EventNaming;
      /** Retention of the consumed context's stream (when this consumer creates it). */
      retention: StreamRetention;
      /** Retention of the dead-letter stream; default {@link defaultDeadLetterRetention}. */
      deadLetterRetention?: StreamRetention;
      logger: Logger;
      registry: Registry;
      tracer: Tracer;
    },
    private readonly options: SubscriptionOptions<S>,
  ) {
    if (options.handlers.length === 0) throw new Error(`subscription ${options.name} has no handlers`);
    const contexts = new Set(options.handlers.map((handler) => handler.eventType.context));
    if (contexts.size !== 1) {
      throw new Error(`subscription ${options.name} mixes streams (${[...contexts].join(", ")}); use one per context`);
    }
    for (const handler of options.handlers) this.handlers.set(handler.eventType.type, handler);
    this.context = [...contexts][0] as string;
    this.name = `subscription:${options.name}`;
    this.durable = deps.naming.durableName(deps.service, options.name);
    this.inboxKey = `${deps.service}:${options.name}`;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryDelay = options.retryDelay ?? { initialMs: 200, maxMs: 30_000 };
    this.concurrency = options.concurrency ?? 16;
    this.outcomes =
      (deps.registry.getSingleMetric("agora_events_consumed_total") as typeof this.outcomes) ??
      new Counter({
        name: "agora_events_consumed_total",
        help: "Events a consumer finished with, by outcome: applied, duplicate, skipped, retried, dead_lettered.",
        labelNames: ["consumer", "event_type", "outcome"],
        registers: [deps.registry],
      });
    this.handling =
      (deps.registry.getSingleMetric("agora_event_handling_seconds") as typeof this.handling) ??
      new Histogram({
        name: "agora_event_handling_seconds",
        help: "Time to apply one event, transaction included.",
        labelNames: ["consumer", "event_type"],
        buckets: latencyBuckets,
        registers: [deps.registry],
      });
  }

  async start(): Promise<void> {
    this.running = true;
    this.stopping = new AbortController();
    this.loop = this.run();
  }

  /** Stops fetching, lets events in hand finish, and returns (at once while NATS is unreachable). */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort();
    // Not awaited: close() resolves only once the message iterator runs; the loop ending is what counts.
    void this.messages?.close().catch(() => undefined);
    await this.loop;
  }

  private filterSubject(): string {
    const { naming } = this.deps;
    const types = [...this.handlers.keys()];
    return types.length === 1 ? naming.subjectOf(types[0] as string) : naming.subjectsOf(this.context);
  }

  private async ensureConsumer(jsm: JetStreamManager, stream: string): Promise<void> {
    const wanted: Partial<ConsumerConfig> = {
      durable_name: this.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: this.options.startAt === "new" ? DeliverPolicy.New : DeliverPolicy.All,
      filter_subject: this.filterSubject(),
      ack_wait: 30_000 * 1_000_000,
      max_deliver: -1,
      max_ack_pending: 1024,
    };
    const existing = await jsm.consumers.info(stream, this.durable).catch(() => undefined);
    if (!existing) {
      await jsm.consumers.add(stream, wanted);
      this.deps.logger.info({ stream, consumer: this.durable, filter: wanted.filter_subject }, "consumer created");
    } else if (existing.config.filter_subject !== wanted.filter_subject) {
      await jsm.consumers.update(stream, this.durable, { filter_subject: wanted.filter_subject });
    }
  }

  private async run(): Promise<void> {
    let backoff = 250;
    while (this.running) {
      try {
        const { js, jsm } = await this.deps.nats.jetstream(this.stopping.signal);
        const { naming, retention, logger } = this.deps;
        const stream = naming.streamOf(this.context);
        await ensureStream(jsm, streamSettings(stream, naming.subjectsOf(this.context), retention), logger);
        // Dead letters keep their own, longer retention: they wait for a person to look at them.
        await ensureStream(
          jsm,
          streamSettings(
            naming.deadLetterStream(),
            naming.deadLetterSubjects(),
            this.deps.deadLetterRetention ?? defaultDeadLetterRetention,
          ),
          logger,
        );
        await this.ensureConsumer(jsm, stream);
        const consumer = await js.consumers.get(stream, this.durable);
        const messages = await consumer.consume({ max_messages: 256, expires: 10_000 });
        this.messages = messages;
        // Stopped while connecting: close without awaiting (close() resolves only once the iterator
        // below runs, and dispatch then ends at once).
        if (!this.running) void messages.close();
        void this.watch(messages);
        backoff = 250;
        await this.dispatch(messages, js);
      } catch (error) {
        if (!this.running) break;
        this.deps.logger.warn({ err: error, consumer: this.durable, retry_ms: backoff }, "consumer failed; recreating");
        await sleep(backoff, undefined, { signal: this.stopping.signal }).catch(() => undefined);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  /** Ends the message loop when the consumer or stream is gone, so {@link run} recreates them. */
  private async watch(messages: ConsumerMessages): Promise<void> {
    for await (const status of messages.status()) {
      const gone =
        status.type === "consumer_deleted" ||
        status.type === "stream_not_found" ||
        (status.type === "consumer_not_found" && status.count >= 2);
      if (status.type === "heartbeats_missed") {
        this.deps.logger.warn({ consumer: this.durable, missed: status.count }, "consumer heartbeats missed");
      }
      if (gone) {
        this.deps.logger.warn({ consumer: this.durable, status: status.type }, "consumer lost; recreating");
        await messages.close().catch(() => undefined);
        return;
      }
    }
  }

  /** Handles messages concurrently, one at a time per aggregate. */
  private async dispatch(messages: ConsumerMessages, js: JetStreamClient): Promise<void> {
    const lanes = new Map<string, Promise<void>>();
    let inFlight = 0;
    let freed: (() => void) | undefined;
    for await (const message of messages) {
      while (inFlight >= this.concurrency) await new Promise<void>((resolve) => (freed = resolve));
      const lane = message.headers?.get(eventHeaders.aggregateId) || `seq:${message.seq}`;
      inFlight++;
      const next = (lanes.get(lane) ?? Promise.resolve())
        .then(() => this.process(message, js))
        .catch((error: unknown) =>
          this.deps.logger.error({ err: error, consumer: this.durable }, "event handling crashed"),
        )
        .finally(() => {
          inFlight--;
          if (lanes.get(lane) === next) lanes.delete(lane);
          freed?.();
          freed = undefined;
        });
      lanes.set(lane, next);
    }
    await Promise.all(lanes.values());
  }

  private async process(message: JsMsg, js: JetStreamClient): Promise<void> {
    const subject = this.deps.naming.typeOfSubject(message.subject);
    let envelope: ReturnType<typeof decodeEnvelope>;
    try {
      envelope = decodeEnvelope(message.data);
    } catch (error) {
      await this.deadLetter(message, js, `undecodable event: ${(error as Error).message}`);
      return;
    }
    const handler = this.handlers.get(envelope.type);
    if (!handler) {
      message.ack();
      this.outcomes.inc({ consumer: this.options.name, event_type: envelope.type || subject, outcome: "skipped" });
      return;
    }
    const event: ReceivedEvent = {
      id: envelope.eventId,
      type: envelope.type,
      aggregateType: envelope.aggregateType,
      aggregateId: envelope.aggregateId,
      aggregateVersion: envelope.aggregateVersion,
      occurredAt: envelope.occurredAt ?? new Date(0),
      correlationId: envelope.correlationId || envelope.eventId,
      producer: envelope.producer,
      streamSequence: message.info.streamSequence,
      deliveryCount: message.info.deliveryCount,
    };
    const labels = { consumer: this.options.name, event_type: event.type };
    const parent = contextFromHeaders(headerRecord(message));
    const span = this.deps.tracer.startSpan(
      `consume ${event.type}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          "messaging.system": "nats",
          "messaging.destination.name": message.subject,
          "messaging.consumer.group.name": this.durable,
          "messaging.message.id": event.id,
          "agora.correlation_id": event.correlationId,
        },
      },
      parent,
    );
    const started = process.hrtime.bigint();
    try {
      const applied = await otelContext.with(trace.setSpan(parent, span), () =>
        runWithRequestContext({ correlationId: event.correlationId }, () =>
          this.deps.database.db.transaction(async (tx) => {
            const recorded = await tx
              .insert(processedEvents)
              .values({ consumer: this.inboxKey, eventId: event.id })
              .onConflictDoNothing()
              .returning({ eventId: processedEvents.eventId });
            if (recorded.length === 0) return false;
            let payload: unknown;
            try {
              payload = unpackPayload(handler.eventType, envelope.payload);
            } catch (error) {
              throw new PermanentEventError(`undecodable payload: ${(error as Error).message}`);
            }
            await handler.handle(payload, event, tx as unknown as Tx<S>);
            return true;
          }),
        ),
      );
      message.ack();
      span.setStatus({ code: SpanStatusCode.OK });
      this.outcomes.inc({ ...labels, outcome: applied ? "applied" : "duplicate" });
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (error instanceof PermanentEventError || event.deliveryCount >= this.maxAttempts) {
        await this.deadLetter(message, js, reason);
      } else {
        const delay = retryDelayMs(event.deliveryCount, this.retryDelay);
        this.deps.logger.warn(
          {
            consumer: this.durable,
            event_id: event.id,
            event_type: event.type,
            attempt: event.deliveryCount,
            retry_ms: delay,
            err: error,
          },
          "event handling failed; will retry",
        );
        message.nak(delay);
        this.outcomes.inc({ ...labels, outcome: "retried" });
      }
    } finally {
      span.end();
      this.handling.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /** Moves a message to the dead letters and terminates it; if that fails, naks it to try later. */
  private async deadLetter(message: JsMsg, js: JetStreamClient, reason: string): Promise<void> {
    const { naming, service, logger } = this.deps;
    const headers = natsHeaders();
    for (const [key, value] of Object.entries(headerRecord(message))) {
      if (key !== "Nats-Msg-Id") headers.set(key, value);
    }
    headers.set(eventHeaders.deadLetterSubject, message.subject);
    headers.set(eventHeaders.deadLetterStream, message.info.stream);
    headers.set(eventHeaders.deadLetterSequence, String(message.info.streamSequence));
    headers.set(eventHeaders.deadLetterAttempts, String(message.info.deliveryCount));
    headers.set(eventHeaders.deadLetterError, reason.slice(0, 1000).replace(/[\r\n]+/g, " "));
    headers.set(eventHeaders.deadLetterConsumer, this.durable);
    headers.set(eventHeaders.deadLetterTime, new Date().toISOString());
    try {
      await js.publish(naming.deadLetterSubject(service, this.options.name), message.data, {
        headers,
        msgID: `dead-letter:${this.durable}:${message.info.stream}:${message.info.streamSequence}`,
        timeout: 5000,
      });
      message.term();
      this.outcomes.inc({
        consumer: this.options.name,
        event_type: headerRecord(message)[eventHeaders.eventType] ?? "unknown",
        outcome: "dead_lettered",
      });
      logger.error(
        {
          consumer: this.durable,
          subject: message.subject,
          sequence: message.info.streamSequence,
          attempts: message.info.deliveryCount,
          reason,
        },
        "event moved to the dead letters",
      );
    } catch (error) {
      logger.warn({ err: error, consumer: this.durable }, "could not dead-letter the event; retrying later");
      message.nak(retryDelayMs(message.info.deliveryCount, this.retryDelay));
    }
  }
}
