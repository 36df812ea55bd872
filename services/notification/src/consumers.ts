import { type EventHandler, on, PermanentEventError, type SubscriptionOptions } from "@agora/service-kit";
import type { notifications } from "./db/schema";
import { type NotifiedEvent, orderNotices, paymentNotices, shippingNotices } from "./messages";
import type { Notifier } from "./notifier";

type Schema = { notifications: typeof notifications };

/**
 * Redelivery schedule: an event whose customer cannot be looked up (identity down) is retried for
 * about a quarter of an hour (1 s doubling to 60 s, 20 attempts) before it goes to the dead letters,
 * from where `tools/dead-letters` can re-drive it.
 */
const retries = { maxAttempts: 20, retryDelay: { initialMs: 1000, maxMs: 60_000 } };

function handlersFor(entries: readonly NotifiedEvent[], notifier: Notifier): EventHandler<Schema>[] {
  return entries.map((entry) =>
    on<unknown, Schema>(entry.eventType, async (payload, event, tx) => {
      const outcome = await notifier.notify(entry, payload, event, tx);
      if (outcome === "no_recipient_in_event") {
        throw new PermanentEventError(`${event.type} ${event.id} names no customer or order`);
      }
    }),
  );
}

/** One inbox-guarded durable consumer per source stream: order, payment, shipping. */
export function notificationSubscriptions(notifier: Notifier): SubscriptionOptions<Schema>[] {
  return [
    { name: "order-events", handlers: handlersFor(orderNotices, notifier), ...retries },
    { name: "payment-events", handlers: handlersFor(paymentNotices, notifier), ...retries },
    { name: "shipping-events", handlers: handlersFor(shippingNotices, notifier), ...retries },
  ];
}
