import { type EventHandler, on, PermanentEventError, type SubscriptionOptions } from "@agora/service-kit";
import { orderViews } from "./db/schema";
import { orderEvents, type ProjectedEvent, paymentEvents, shippingEvents } from "./view-events";
import type { ViewSchema, ViewStore } from "./view-store";

function handlersFor(projections: readonly ProjectedEvent[], store: ViewStore): EventHandler<ViewSchema>[] {
  return projections.map((projection) =>
    on<unknown, ViewSchema>(projection.eventType, async (payload, event, tx) => {
      const viewEvent = projection.toViewEvent(payload, event);
      if (!viewEvent) throw new PermanentEventError(`${event.type} ${event.id} names no order`);
      await store.apply(tx, orderViews, [viewEvent]);
    }),
  );
}

/**
 * The durable consumers that keep the live views up to date: one per source stream (order, payment,
 * shipping), each event applied in the inbox transaction that records it.
 */
export function viewSubscriptions(store: ViewStore): SubscriptionOptions<ViewSchema>[] {
  return [
    { name: "order-events", handlers: handlersFor(orderEvents, store) },
    { name: "payment-events", handlers: handlersFor(paymentEvents, store) },
    { name: "shipping-events", handlers: handlersFor(shippingEvents, store) },
  ];
}
