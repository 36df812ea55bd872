import { type Logger, PeriodicTask } from "@agora/service-kit";
import type { StockStore } from "./stock-store";

/** Reservations expired per round before the sweeper looks again at once. */
const batchSize = 100;

/**
 * The background sweeper that releases reservations never committed within their TTL. Its state is
 * the reservations table itself (RESERVED rows past expires_at), so a crash loses nothing: the next
 * round of any replica finds what is due. Replicas share the work (FOR UPDATE SKIP LOCKED).
 */
export function reservationExpiry(store: StockStore, options: { intervalMs: number; logger: Logger }): PeriodicTask {
  return new PeriodicTask({
    name: "reservation-expiry",
    intervalMs: options.intervalMs,
    logger: options.logger,
    run: async () => {
      const expired = await store.expireDue(batchSize);
      if (expired > 0) options.logger.info({ expired }, "expired reservations released their stock");
      return expired === batchSize;
    },
  });
}
