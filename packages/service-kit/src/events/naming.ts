import type { EventType } from "@agora/contracts";

/**
 * Where events live on NATS. Every name takes an optional prefix (NATS_SUBJECT_PREFIX, e.g. "t42.")
 * so several isolated tenants (test files) can share one server.
 */
export class EventNaming {
  constructor(readonly prefix: string = "") {}

  /** Stream of a publishing context: "AGORA_ORDER" (prefixed "T42_AGORA_ORDER"). */
  streamOf(context: string): string {
    return `${this.streamPrefix()}AGORA_${context.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
  }

  /** Subjects a context's stream captures: "agora.order.>". */
  subjectsOf(context: string): string {
    return `${this.prefix}agora.${context}.>`;
  }

  /** Subject of an event type: "agora.order.confirmed". */
  subjectOf(event: EventType<unknown> | string): string {
    return `${this.prefix}${typeof event === "string" ? event : event.type}`;
  }

  /** The event type of a subject (without the prefix). */
  typeOfSubject(subject: string): string {
    return subject.startsWith(this.prefix) ? subject.slice(this.prefix.length) : subject;
  }

  /** The stream holding dead letters of every service. */
  deadLetterStream(): string {
    return `${this.streamPrefix()}AGORA_DEAD_LETTERS`;
  }

  /** Subjects of the dead-letter stream. */
  deadLetterSubjects(): string {
    return `${this.prefix}agora.dead_letter.>`;
  }

  /** Subject of one consumer's dead letters: "agora.dead_letter.inventory.product-created". */
  deadLetterSubject(service: string, consumer: string): string {
    return `${this.prefix}agora.dead_letter.${service}.${consumer}`;
  }

  /** Durable consumer name: "inventory-product-created" (no dots allowed). */
  durableName(service: string, consumer: string): string {
    return `${this.streamPrefix()}${service}-${consumer}`.replace(/[^A-Za-z0-9_-]/g, "_");
  }

  private streamPrefix(): string {
    return this.prefix.replace(/\./g, "_").toUpperCase();
  }
}

/** NATS headers the kit writes on every event. */
export const eventHeaders = {
  eventType: "Agora-Event-Type",
  aggregateId: "Agora-Aggregate-Id",
  aggregateVersion: "Agora-Aggregate-Version",
  correlationId: "Agora-Correlation-Id",
  producer: "Agora-Producer",
  deadLetterSubject: "Agora-Dead-Letter-Original-Subject",
  deadLetterStream: "Agora-Dead-Letter-Original-Stream",
  deadLetterSequence: "Agora-Dead-Letter-Original-Sequence",
  deadLetterAttempts: "Agora-Dead-Letter-Attempts",
  deadLetterError: "Agora-Dead-Letter-Error",
  deadLetterConsumer: "Agora-Dead-Letter-Consumer",
  deadLetterTime: "Agora-Dead-Letter-Time",
} as const;
