import { randomUUID } from "node:crypto";
import type { Tx } from "@agora/service-kit";
import { notifications } from "./db/schema";

type Schema = { notifications: typeof notifications };

/** A message ready to go out about one event. */
export interface OutgoingMessage {
  readonly eventId: string;
  readonly eventType: string;
  readonly customerId: string;
  readonly orderId: string;
  /** The customer's email address. */
  readonly to: string;
  readonly subject: string;
  readonly body: string;
}

/**
 * A way to reach customers. `send` runs inside the consumer's inbox transaction: throwing retries
 * the event later. Delivery must be idempotent by `eventId` — a real provider (SES, SendGrid, an
 * SMTP relay) takes it as its idempotency key, because a crash between the provider accepting the
 * message and the commit makes the event come back — and must record what was sent with
 * {@link recordSent} in the same transaction, so ListNotifications shows it.
 */
export interface NotificationChannel {
  /** Channel name as ListNotifications reports it, e.g. "EMAIL". */
  readonly name: string;
  send(tx: Tx<Schema>, message: OutgoingMessage): Promise<void>;
}

/**
 * Records a sent message; false when one was already recorded for the event (unique event_id, a
 * second guard behind the inbox).
 */
export async function recordSent(
  tx: Tx<Schema>,
  channel: string,
  message: OutgoingMessage,
  sentAt: Date = new Date(),
): Promise<boolean> {
  const inserted = await tx
    .insert(notifications)
    .values({
      notificationId: randomUUID(),
      customerId: message.customerId,
      channel,
      recipient: message.to,
      eventId: message.eventId,
      eventType: message.eventType,
      orderId: message.orderId,
      subject: message.subject,
      body: message.body,
      sentAt,
    })
    .onConflictDoNothing({ target: notifications.eventId })
    .returning({ id: notifications.notificationId });
  return inserted.length > 0;
}

/**
 * The built-in email channel: there is no mail server, so "sending" is recording the message as
 * sent in the service's database (the outbox of a mail relay, if you like). Replace it with a
 * provider-backed channel that delivers first and then calls {@link recordSent}.
 */
export class RecordingEmailChannel implements NotificationChannel {
  readonly name = "EMAIL";

  async send(tx: Tx<Schema>, message: OutgoingMessage): Promise<void> {
    await recordSent(tx, this.name, message);
  }
}
