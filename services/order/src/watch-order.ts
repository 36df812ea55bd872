import { UnavailableError } from "@agora/service-kit";
import { visibleOrder } from "./order-access";
import type { OrderChangeFeed } from "./order-changes";
import type { OrderStore } from "./order-store";
import { isFinal, type OrderView } from "./orders";

/** What WatchOrder works with. */
export interface WatchOrderDeps {
  readonly store: OrderStore;
  readonly feed: OrderChangeFeed;
  /** Re-read interval when no notification arrives (the polling fallback). */
  readonly pollMs: number;
}

/**
 * WatchOrder: sends the order now and again after every status change — noticed through the change
 * feed (LISTEN/NOTIFY, so changes made by any replica arrive) or, failing that, by polling — and
 * returns once the order is SHIPPED, REJECTED or CANCELLED. Changes that land between two reads are
 * sent as one message (the order as it is then, its history complete). Ends with UNAVAILABLE when
 * the service shuts down, so the client watches again elsewhere.
 */
export async function watchOrder(
  orderId: string,
  customerId: string | undefined,
  deps: WatchOrderDeps,
  send: (view: OrderView) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const subscription = deps.feed.subscribe(orderId);
  try {
    let last = await visibleOrder(deps.store, orderId, customerId);
    await send(last);
    while (!isFinal(last.order.status)) {
      await subscription.next(deps.pollMs, signal);
      if (signal.aborted) return;
      if (deps.feed.closing) throw new UnavailableError("the order service is shutting down; watch the order again");
      const current = await visibleOrder(deps.store, orderId, customerId);
      if (current.order.status !== last.order.status || current.history.length !== last.history.length) {
        await send(current);
      }
      last = current;
    }
  } finally {
    subscription.close();
  }
}
