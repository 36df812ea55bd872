import { type EventType, eventTypes } from "@agora/contracts";
import { decodeEnvelope, EventNaming, type ReceivedEvent } from "@agora/service-kit";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";

/** An event read back from a stream by a test. */
export interface ProbedEvent<T = unknown> {
  readonly event: Omit<ReceivedEvent, "deliveryCount">;
  readonly subject: string;
  readonly payload: T;
  /** The message's NATS headers (trace context, Agora-Correlation-Id, …). */
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Reads what services published, the way a consumer would see it: every event of a context's stream,
 * decoded through the event catalog. For assertions such as "catalog published product_created once".
 */
export class EventProbe {
  private constructor(
    private readonly connection: NatsConnection,
    private readonly naming: EventNaming,
  ) {}

  static async connect(url: string, subjectPrefix = ""): Promise<EventProbe> {
    return new EventProbe(await connect({ servers: url }), new EventNaming(subjectPrefix));
  }

  /** Every event currently stored in the context's stream, in stream order. */
  async all(context: string): Promise<ProbedEvent[]> {
    const jsm = await jetstreamManager(this.connection);
    const stream = this.naming.streamOf(context);
    const info = await jsm.streams.info(stream).catch(() => undefined);
    if (!info || info.state.messages === 0) return [];
    const consumer = await jetstream(this.connection).consumers.get(stream, { deliver_policy: DeliverPolicy.All });
    const events: ProbedEvent[] = [];
    while (events.length < info.state.messages) {
      const message = await consumer.next({ expires: 2000 });
      if (!message) break;
      const envelope = decodeEnvelope(message.data);
      const type = eventTypes.get(envelope.type);
      const headers: Record<string, string> = {};
      for (const key of message.headers?.keys() ?? []) headers[key] = message.headers?.get(key) ?? "";
      events.push({
        subject: message.subject,
        headers,
        payload: type ? type.codec.decode(envelope.payload.value) : undefined,
        event: {
          id: envelope.eventId,
          type: envelope.type,
          aggregateType: envelope.aggregateType,
          aggregateId: envelope.aggregateId,
          aggregateVersion: envelope.aggregateVersion,
          occurredAt: envelope.occurredAt ?? new Date(0),
          correlationId: envelope.correlationId,
          producer: envelope.producer,
          streamSequence: message.info.streamSequence,
        },
      });
    }
    await consumer.delete().catch(() => undefined);
    return events;
  }

  /** Events of one type currently in the stream. */
  async ofType<T>(eventType: EventType<T>): Promise<ProbedEvent<T>[]> {
    return (await this.all(eventType.context)).filter(
      (probed) => probed.event.type === eventType.type,
    ) as ProbedEvent<T>[];
  }

  /** Waits until `predicate` holds for the events of `eventType` (polling), and returns them. */
  async waitFor<T>(
    eventType: EventType<T>,
    predicate: (events: ProbedEvent<T>[]) => boolean,
    timeoutMs = 10_000,
  ): Promise<ProbedEvent<T>[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const events = await this.ofType(eventType);
      if (predicate(events)) return events;
      if (Date.now() > deadline) {
        throw new Error(`${eventType.type}: condition not met within ${timeoutMs} ms (${events.length} events seen)`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
