import type { EventType } from "@agora/contracts";
import { EventEnvelope } from "@agora/contracts/agora/common/v1/event_envelope";

/** An event as a consumer sees it: the envelope's metadata plus where it sits in the stream. */
export interface ReceivedEvent {
  readonly id: string;
  readonly type: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly aggregateVersion: number;
  readonly occurredAt: Date;
  readonly correlationId: string;
  readonly producer: string;
  /** Position in the stream. */
  readonly streamSequence: number;
  /** 1 on first delivery, more on redeliveries. */
  readonly deliveryCount: number;
}

/** Everything the envelope carries besides the payload. */
export interface EnvelopeFields {
  eventId: string;
  type: string;
  occurredAt: Date;
  aggregateType: string;
  aggregateId: string;
  aggregateVersion: number;
  correlationId: string;
  producer: string;
}

const typeUrlPrefix = "type.googleapis.com/";

/** Encodes an event as an agora.common.v1.EventEnvelope with the payload packed in an Any. */
export function encodeEnvelope<T>(eventType: EventType<T>, payload: T, fields: EnvelopeFields): Uint8Array {
  return EventEnvelope.encode({
    ...fields,
    payload: {
      typeUrl: `${typeUrlPrefix}${eventType.typeName}`,
      value: Buffer.from(eventType.codec.encode(payload).finish()),
    },
  }).finish();
}

/** Decodes an envelope; throws when the bytes are not one or carry no payload. */
export function decodeEnvelope(bytes: Uint8Array): EventEnvelope & { payload: NonNullable<EventEnvelope["payload"]> } {
  const envelope = EventEnvelope.decode(bytes);
  if (!envelope.payload || !envelope.eventId || !envelope.type) {
    throw new Error("not an event envelope (missing event_id, type or payload)");
  }
  return envelope as EventEnvelope & { payload: NonNullable<EventEnvelope["payload"]> };
}

/** Unpacks the payload of an envelope as `eventType`; throws when the Any holds another type. */
export function unpackPayload<T>(eventType: EventType<T>, payload: { typeUrl: string; value: Uint8Array }): T {
  const expected = `${typeUrlPrefix}${eventType.typeName}`;
  if (payload.typeUrl !== expected) throw new Error(`payload is ${payload.typeUrl}, expected ${expected}`);
  return eventType.codec.decode(payload.value);
}
