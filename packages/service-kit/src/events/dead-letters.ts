import { eventTypes } from "@agora/contracts";
import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { decodeEnvelope } from "./envelope";
import { type EventNaming, eventHeaders } from "./naming";

/** One event in the dead-letter stream. */
export interface DeadLetter {
  /** Sequence in the dead-letter stream: the handle for re-driving it. */
  sequence: number;
  service: string;
  consumer: string;
  originalSubject: string;
  originalStream: string;
  originalSequence: number;
  attempts: number;
  error: string;
  deadLetteredAt: string;
  eventId: string;
  eventType: string;
  aggregateId: string;
  /** The payload as JSON (decoded through the event catalog), for a look at what failed. */
  payload: unknown;
}

function describe(message: StoredMsg, naming: EventNaming): DeadLetter {
  const header = (name: string) => message.header?.get(name) ?? "";
  const [, , service = "", consumer = ""] = naming.typeOfSubject(message.subject).split(".");
  let eventId = "";
  let eventType = header(eventHeaders.eventType);
  let payload: unknown;
  try {
    const envelope = decodeEnvelope(message.data);
    eventId = envelope.eventId;
    eventType = envelope.type;
    const catalogued = eventTypes.get(envelope.type);
    const codec = catalogued?.codec as unknown as {
      decode(bytes: Uint8Array): unknown;
      toJSON?(value: unknown): unknown;
    };
    payload = catalogued ? (codec.toJSON?.(codec.decode(envelope.payload.value)) ?? null) : null;
  } catch (error) {
    payload = { undecodable: (error as Error).message };
  }
  return {
    sequence: message.seq,
    service,
    consumer,
    originalSubject: header(eventHeaders.deadLetterSubject),
    originalStream: header(eventHeaders.deadLetterStream),
    originalSequence: Number(header(eventHeaders.deadLetterSequence) || 0),
    attempts: Number(header(eventHeaders.deadLetterAttempts) || 0),
    error: header(eventHeaders.deadLetterError),
    deadLetteredAt: header(eventHeaders.deadLetterTime),
    eventId,
    eventType,
    aggregateId: header(eventHeaders.aggregateId),
    payload,
  };
}

/** Dead letters of one service (or all), oldest first. */
export async function listDeadLetters(
  jsm: JetStreamManager,
  naming: EventNaming,
  service?: string,
): Promise<DeadLetter[]> {
  const stream = naming.deadLetterStream();
  const info = await jsm.streams.info(stream).catch(() => undefined);
  if (!info || info.state.messages === 0) return [];
  const wanted = service ? `${naming.prefix}agora.dead_letter.${service}.` : undefined;
  const letters: DeadLetter[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const message = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (!message) continue; // deleted (already re-driven)
    if (wanted && !message.subject.startsWith(wanted)) continue;
    letters.push(describe(message, naming));
  }
  return letters;
}

/**
 * Publishes a dead letter back to its original subject (every consumer of that stream sees it again;
 * those that already applied the event skip it through their inbox) and removes it from the
 * dead-letter stream. Returns what was re-driven.
 */
export async function redriveDeadLetter(
  js: JetStreamClient,
  jsm: JetStreamManager,
  naming: EventNaming,
  sequence: number,
): Promise<DeadLetter> {
  const stream = naming.deadLetterStream();
  const message = await jsm.streams.getMessage(stream, { seq: sequence });
  if (!message) throw new Error(`no dead letter with sequence ${sequence}`);
  const letter = describe(message, naming);
  if (!letter.originalSubject) throw new Error(`dead letter ${sequence} does not name its original subject`);
  const headers = natsHeaders();
  for (const key of message.header?.keys() ?? []) {
    if (!key.startsWith("Agora-Dead-Letter-") && key !== "Nats-Msg-Id")
      headers.set(key, message.header?.get(key) ?? "");
  }
  await js.publish(letter.originalSubject, message.data, {
    headers,
    msgID: `redrive:${stream}:${sequence}`,
    timeout: 5000,
  });
  await jsm.streams.deleteMessage(stream, sequence);
  return letter;
}
