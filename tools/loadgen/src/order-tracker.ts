import { confirmedStatuses, type OrderStatusName, terminalStatuses } from "./shop-api";

/** How far the place-order flow follows an order. */
export type FollowUntil = "confirmed" | "terminal";

/**
 * Follows one order's statuses as they are observed and times the milestones from the moment the
 * PlaceOrder request was sent: confirmed (CONFIRMED, or SHIPPED seen without CONFIRMED in between,
 * which implies it) and final (SHIPPED, REJECTED, CANCELLED).
 */
export class OrderTracker {
  /** Last status seen. */
  status: OrderStatusName = "";
  /** Milliseconds from placement to the first confirmed status, when seen. */
  confirmedAfterMs: number | undefined;
  /** Milliseconds from placement to the final status, when seen. */
  terminalAfterMs: number | undefined;

  constructor(
    private readonly placedAt: number,
    private readonly until: FollowUntil,
    private readonly now: () => number,
  ) {}

  /** Notes a status; true once following can stop (final, or confirmed when following until confirmed). */
  observe(status: OrderStatusName): boolean {
    this.status = status;
    const elapsed = this.now() - this.placedAt;
    if (this.confirmedAfterMs === undefined && confirmedStatuses.has(status)) this.confirmedAfterMs = elapsed;
    if (this.terminalAfterMs === undefined && terminalStatuses.has(status)) this.terminalAfterMs = elapsed;
    return this.done;
  }

  /** True when following can stop. */
  get done(): boolean {
    if (this.terminalAfterMs !== undefined) return true;
    return this.until === "confirmed" && this.confirmedAfterMs !== undefined;
  }
}
