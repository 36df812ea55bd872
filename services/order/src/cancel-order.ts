import { FailedPreconditionError, UnavailableError } from "@agora/service-kit";
import { visibleOrder } from "./order-access";
import type { OrderChangeFeed } from "./order-changes";
import type { OrderStore } from "./order-store";
import type { OrderView } from "./orders";
import type { SagaKicker } from "./saga/saga-executor";
import type { SagaStore } from "./saga/saga-store";

/** What CancelOrder works with. */
export interface CancelOrderDeps {
  readonly store: OrderStore;
  readonly sagas: SagaStore;
  readonly feed: OrderChangeFeed;
  readonly executor: SagaKicker;
  /** Longest wait for the compensation before answering UNAVAILABLE (it goes on regardless). */
  readonly waitMs: number;
  /** How often to re-read the order while waiting, besides notifications. */
  readonly pollMs: number;
}

/**
 * CancelOrder: records the cancellation in the saga (one transaction), lets the executor compensate
 * — for a CONFIRMED order first stop the shipment at shipping, then void the payment and release the
 * stock — and waits until the order is CANCELLED. Idempotent: an order already cancelled is returned
 * as it is. FAILED_PRECONDITION once shipped — also when shipping answers that the parcel has left
 * before this service heard of it (the order is then SHIPPED and nothing is given back) — rejected
 * (also when a rejection wins the race) or parked for an operator. When the compensation cannot
 * finish in time (a downstream is down), the answer is UNAVAILABLE: the cancellation is recorded and
 * completes on its own; calling again waits again.
 */
export async function cancelOrder(
  orderId: string,
  reason: string,
  customerId: string | undefined,
  deps: CancelOrderDeps,
  call: { signal?: AbortSignal; deadline?: Date } = {},
): Promise<OrderView> {
  await visibleOrder(deps.store, orderId, customerId);
  const subscription = deps.feed.subscribe(orderId);
  try {
    const plan = await deps.sagas.requestCancel(orderId, reason);
    if (plan.kind === "refused") throw new FailedPreconditionError(`order ${orderId}: ${plan.message}`);
    if (plan.kind === "start") deps.executor.kick();
    const waitUntil = Math.min(Date.now() + deps.waitMs, (call.deadline?.getTime() ?? Number.POSITIVE_INFINITY) - 250);
    for (;;) {
      const view = await visibleOrder(deps.store, orderId, customerId);
      switch (view.order.status) {
        case "CANCELLED":
          return view;
        case "REJECTED":
          throw new FailedPreconditionError(`order ${orderId} was rejected (${view.order.statusReason})`);
        case "SHIPPED":
          throw new FailedPreconditionError(
            `order ${orderId} has shipped and can no longer be cancelled (${view.order.statusReason})`,
          );
        case "NEEDS_ATTENTION":
          throw new FailedPreconditionError(
            `order ${orderId} needs an operator: ${view.order.statusReason}; the cancellation resumes once it is fixed`,
          );
        default:
          break;
      }
      const left = waitUntil - Date.now();
      if (left <= 0 || call.signal?.aborted) {
        throw new UnavailableError(
          `order ${orderId}: the cancellation is recorded and still in progress (a service is slow or down); ` +
            "it completes on its own — follow it with GetOrder or WatchOrder",
        );
      }
      await subscription.next(Math.min(left, deps.pollMs), call.signal);
    }
  } finally {
    subscription.close();
  }
}
