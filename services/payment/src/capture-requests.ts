import type { Db, Tx } from "@agora/service-kit";
import { asc, eq, inArray, lte, sql } from "drizzle-orm";
import type * as schema from "./db/schema";
import { type CaptureRequestRow, captureRequests, type PaymentRow, payments } from "./db/schema";
import { captureStanding } from "./payment-rules";

type Schema = typeof schema;

/** What the shipment_dispatched consumer did with the order's payment. */
export type ShipmentCaptureRequest = "capture requested" | "already captured" | "not capturable" | "no payment";

/** Milliseconds as a Postgres interval (the database's clock decides what is due). */
const interval = (ms: number) => sql`make_interval(secs => ${ms}::float8 / 1000)`;

/**
 * The capture requests (table capture_requests): recorded by the shipment_dispatched consumer in its
 * inbox transaction, carried out by the capture worker. The database is the queue, so a request
 * survives a crash or a restart, and replicas share the work (FOR UPDATE SKIP LOCKED).
 */
export class CaptureRequests {
  constructor(private readonly db: Db<Schema>) {}

  /**
   * In the consumer's transaction: records a capture request for the order's payment when it is
   * AUTHORIZED (once per payment — a redelivered event adds nothing). Never calls the processor.
   */
  async request(
    tx: Tx<Schema>,
    orderId: string,
    eventId: string,
  ): Promise<{ result: ShipmentCaptureRequest; payment?: PaymentRow }> {
    const [payment] = await tx.select().from(payments).where(eq(payments.orderId, orderId));
    if (!payment) return { result: "no payment" };
    const standing = captureStanding(payment.status);
    if (standing === "captured") return { result: "already captured", payment };
    if (standing === "not capturable") return { result: "not capturable", payment };
    await tx
      .insert(captureRequests)
      .values({ paymentId: payment.paymentId, orderId, eventId })
      .onConflictDoNothing({ target: captureRequests.paymentId });
    return { result: "capture requested", payment };
  }

  /**
   * Claims up to `limit` due requests in a short transaction: counts the attempt and moves
   * next_attempt_at `leaseMs` ahead, so no other worker takes them meanwhile — and a request whose
   * worker dies mid-attempt is due again once the lease has passed. Returns them (attempts included).
   */
  async claimDue(limit: number, leaseMs: number): Promise<CaptureRequestRow[]> {
    return this.db.transaction(async (tx) => {
      const due = await tx
        .select({ paymentId: captureRequests.paymentId })
        .from(captureRequests)
        .where(lte(captureRequests.nextAttemptAt, sql`now()`))
        .orderBy(asc(captureRequests.nextAttemptAt))
        .limit(limit)
        .for("update", { skipLocked: true });
      if (due.length === 0) return [];
      return tx
        .update(captureRequests)
        .set({ attempts: sql`${captureRequests.attempts} + 1`, nextAttemptAt: sql`now() + ${interval(leaseMs)}` })
        .where(
          inArray(
            captureRequests.paymentId,
            due.map((row) => row.paymentId),
          ),
        )
        .returning();
    });
  }

  /** Removes a request that is done (captured, or nothing left to capture). */
  async remove(paymentId: string): Promise<void> {
    await this.db.delete(captureRequests).where(eq(captureRequests.paymentId, paymentId));
  }

  /** Schedules the next attempt of a failed request in `delayMs`, noting why it failed. */
  async retryLater(paymentId: string, error: string, delayMs: number): Promise<void> {
    await this.db
      .update(captureRequests)
      .set({ lastError: error.slice(0, 1000), nextAttemptAt: sql`now() + ${interval(delayMs)}` })
      .where(eq(captureRequests.paymentId, paymentId));
  }

  /** Every pending request, oldest first (for tests and operators). */
  pending(): Promise<CaptureRequestRow[]> {
    return this.db.select().from(captureRequests).orderBy(asc(captureRequests.requestedAt));
  }
}
