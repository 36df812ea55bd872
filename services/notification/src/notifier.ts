import { Counter, type ReceivedEvent, type Registry, type Tx } from "@agora/service-kit";
import type { Logger } from "pino";
import type { NotificationChannel } from "./channel";
import type { CustomerDirectory } from "./customer-directory";
import type { notifications } from "./db/schema";
import type { NotifiedEvent } from "./messages";

type Schema = { notifications: typeof notifications };

/** What became of an event. */
export type NotifyOutcome = "sent" | "unknown_customer" | "no_recipient_in_event";

/**
 * Turns one event into one message: finds the customer, renders, sends through the channel — all
 * in the inbox transaction of the event, so the message exists exactly when the event counts as
 * handled. An event about a customer identity does not know (orders placed straight over gRPC
 * with a made-up customer id) is acknowledged without a message: there is nobody to write to.
 */
export class Notifier {
  private readonly outcomes: Counter<"event_type" | "outcome">;

  constructor(
    private readonly directory: CustomerDirectory,
    private readonly channel: NotificationChannel,
    private readonly logger: Logger,
    registry?: Registry,
  ) {
    this.outcomes = new Counter({
      name: "agora_notifications_total",
      help: "Events the notifier finished with, by outcome: sent, unknown_customer, no_recipient_in_event.",
      labelNames: ["event_type", "outcome"],
      registers: registry ? [registry] : [],
    });
  }

  /** Handles one event of a type customers hear about. */
  async notify(entry: NotifiedEvent, payload: unknown, event: ReceivedEvent, tx: Tx<Schema>): Promise<NotifyOutcome> {
    const outcome = await this.send(entry, payload, event, tx);
    this.outcomes.inc({ event_type: event.type, outcome });
    return outcome;
  }

  private async send(
    entry: NotifiedEvent,
    payload: unknown,
    event: ReceivedEvent,
    tx: Tx<Schema>,
  ): Promise<NotifyOutcome> {
    const notice = entry.notice(payload);
    if (!notice) {
      this.logger.warn({ event_id: event.id, event_type: event.type }, "event names no customer or order; no message");
      return "no_recipient_in_event";
    }
    const recipient = await this.directory.find(notice.customerId);
    if (!recipient) {
      this.logger.warn(
        { event_id: event.id, event_type: event.type, customer_id: notice.customerId },
        "customer unknown to identity; no message",
      );
      return "unknown_customer";
    }
    const { subject, body } = notice.render(recipient);
    await this.channel.send(tx, {
      eventId: event.id,
      eventType: event.type,
      customerId: notice.customerId,
      orderId: notice.orderId,
      to: recipient.email,
      subject,
      body,
    });
    return "sent";
  }
}
