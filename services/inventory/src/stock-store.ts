import { randomUUID } from "node:crypto";
import { type Db, FailedPreconditionError, NotFoundError, type Tx } from "@agora/service-kit";
import { and, asc, eq, getTableColumns, inArray, lte, sql } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";
import type * as schema from "./db/schema";
import {
  type ReservationRow,
  type ReservationStatusName,
  reservationLines,
  reservations,
  type StockLevelRow,
  stockAdjustments,
  stockLevels,
} from "./db/schema";
import {
  depletedSkus,
  describeShortages,
  findShortages,
  maxOnHand,
  type StockAdjustment,
  type StockLineInput,
  sameLines,
  sortBySku,
} from "./stock-rules";

type Schema = typeof schema;

/**
 * Orders by SKU byte by byte (collation "C"), the same order as {@link sortBySku} in JavaScript — the
 * database's default collation may sort "AB-C" and "ABB" the other way round, and lock order must be
 * one order everywhere.
 */
const bySkuBytes = (column: AnyPgColumn) => sql`${column} collate "C"`;
type InventoryTx = Tx<Schema>;

/** A reservation with its lines (sorted by SKU). */
export interface ReservationView extends ReservationRow {
  readonly lines: StockLineInput[];
}

/**
 * What happens, in the same transaction, when stock is held, given back or runs out: main.ts records
 * inventory's events in the outbox here.
 */
export interface InventoryEvents {
  reserved(tx: InventoryTx, reservation: ReservationView): Promise<void>;
  released(tx: InventoryTx, reservation: ReservationView, reason: string): Promise<void>;
  depleted(tx: InventoryTx, level: StockLevelRow): Promise<void>;
}

/** Why CommitReservation found the hold already run out (thrown after the expiry is committed). */
class ExpiredWhileCommitting {
  constructor(readonly reservation: ReservationView) {}
}

/**
 * Stock levels and reservations on the inventory database. Every operation is one transaction.
 *
 * Locking: a transaction that touches stock locks the reservation row first (when there is one) and
 * then the stock rows of its SKUs in ascending SKU order, so no two transactions ever wait on each other
 * in a cycle; the expiry sweeper claims due reservations with FOR UPDATE SKIP LOCKED, so replicas
 * share the work and never block a caller. The database's check constraints (reserved ≥ 0, on_hand ≥
 * reserved) back the rules up: stock can never go negative, even through a bug.
 */
export class StockStore {
  constructor(
    private readonly db: Db<Schema>,
    private readonly events: InventoryEvents,
    private readonly options: { reservationTtlMs: number },
  ) {}

  /** Stock of the SKUs in the order asked; NOT_FOUND naming every SKU inventory does not stock. */
  async getStock(skus: readonly string[]): Promise<StockLevelRow[]> {
    const rows = await this.db
      .select()
      .from(stockLevels)
      .where(inArray(stockLevels.sku, [...new Set(skus)]));
    const bySku = new Map(rows.map((row) => [row.sku, row]));
    const missing = [...new Set(skus.filter((sku) => !bySku.has(sku)))];
    if (missing.length > 0) throw new NotFoundError(`no stock entry for SKU ${missing.join(", ")}`);
    return skus.map((sku) => bySku.get(sku) as StockLevelRow);
  }

  /** The order's reservation, or undefined. */
  async reservationOf(orderId: string): Promise<ReservationView | undefined> {
    const [row] = await this.db.select().from(reservations).where(eq(reservations.orderId, orderId));
    return row ? this.withLines(this.db, row) : undefined;
  }

  /**
   * Holds every line for the order, or none (FAILED_PRECONDITION naming each short SKU; a SKU without a
   * stock entry counts as out of stock). Idempotent by order id: when the order has a reservation
   * already — in whatever state — that reservation is returned unchanged if its lines are the same, and
   * FAILED_PRECONDITION is thrown if they differ. `lines` must be sorted by SKU.
   */
  async reserve(
    orderId: string,
    lines: readonly StockLineInput[],
  ): Promise<{ reservation: ReservationView; created: boolean }> {
    return this.db.transaction(async (tx) => {
      // The unique order id decides between concurrent first attempts for one order: the second
      // insert waits for the first transaction and then does nothing (or proceeds if it rolled back).
      const [created] = await tx
        .insert(reservations)
        .values({
          reservationId: randomUUID(),
          orderId,
          status: "RESERVED",
          expiresAt: sql`now() + make_interval(secs => ${this.options.reservationTtlMs}::float8 / 1000)`,
        })
        .onConflictDoNothing({ target: reservations.orderId })
        .returning();
      if (!created) {
        const [existing] = await tx.select().from(reservations).where(eq(reservations.orderId, orderId));
        if (!existing) throw new Error(`reservation of order ${orderId} vanished`);
        const reservation = await this.withLines(tx, existing);
        if (!sameLines(reservation.lines, lines)) {
          throw new FailedPreconditionError(
            `order ${orderId} already has a reservation (${reservation.reservationId}) with other lines; ` +
              "a reservation cannot be changed — release it and place a new order",
          );
        }
        return { reservation, created: false };
      }

      const skus = lines.map((line) => line.sku);
      const before = await tx
        .select()
        .from(stockLevels)
        .where(inArray(stockLevels.sku, skus))
        .orderBy(bySkuBytes(stockLevels.sku))
        .for("no key update");
      const shortages = findShortages(lines, before);
      if (shortages.length > 0) throw new FailedPreconditionError(describeShortages(shortages));

      const after: StockLevelRow[] = [];
      for (const line of lines) {
        const [level] = await tx
          .update(stockLevels)
          .set({ reserved: sql`${stockLevels.reserved} + ${line.quantity}`, updatedAt: sql`now()` })
          .where(eq(stockLevels.sku, line.sku))
          .returning();
        after.push(level as StockLevelRow);
      }
      await tx
        .insert(reservationLines)
        .values(lines.map((line) => ({ reservationId: created.reservationId, ...line })));
      const reservation: ReservationView = { ...created, lines: [...lines] };
      await this.events.reserved(tx, reservation);
      await this.announceDepleted(tx, before, after);
      return { reservation, created: true };
    });
  }

  /**
   * Gives the order's stock back: held units return to available stock; units of a committed
   * reservation (an order cancelled before shipping) return to on-hand stock. A reservation released
   * or expired already is returned unchanged. NOT_FOUND when the order has no reservation.
   */
  async release(orderId: string, reason: string): Promise<ReservationView> {
    return this.db.transaction(async (tx) => {
      const row = await this.lockReservation(tx, orderId);
      if (row.status === "RELEASED" || row.status === "EXPIRED") return this.withLines(tx, row);
      return this.giveBack(tx, row, "RELEASED", reason);
    });
  }

  /**
   * Turns the hold into a deduction from on-hand stock. Idempotent: a committed reservation is
   * returned unchanged. FAILED_PRECONDITION once released or expired — including a hold whose expiry
   * time has passed but which the sweeper has not reached yet: it is expired on the spot.
   */
  async commit(orderId: string): Promise<ReservationView> {
    const outcome = await this.db.transaction(async (tx): Promise<ReservationView | ExpiredWhileCommitting> => {
      const [row] = await tx
        .select({ ...getTableColumns(reservations), overdue: sql<boolean>`${reservations.expiresAt} <= now()` })
        .from(reservations)
        .where(eq(reservations.orderId, orderId))
        .for("update");
      if (!row) throw new NotFoundError(`order ${orderId} has no reservation`);
      const { overdue, ...reservation } = row;
      switch (reservation.status) {
        case "COMMITTED":
          return this.withLines(tx, reservation);
        case "RELEASED":
        case "EXPIRED":
          throw new FailedPreconditionError(
            `the reservation of order ${orderId} was ${reservation.status.toLowerCase()} ` +
              `(${reservation.releaseReason ?? "no reason given"}); it can no longer be committed`,
          );
        case "RESERVED":
          break;
      }
      if (overdue) {
        // Commit the expiry, then report it (throwing here would roll the expiry back).
        return new ExpiredWhileCommitting(
          await this.giveBack(tx, reservation, "EXPIRED", "reservation expired before it was committed"),
        );
      }
      const lines = await this.linesOf(tx, reservation.reservationId);
      for (const line of lines) {
        await tx
          .update(stockLevels)
          .set({
            onHand: sql`${stockLevels.onHand} - ${line.quantity}`,
            reserved: sql`${stockLevels.reserved} - ${line.quantity}`,
            updatedAt: sql`now()`,
          })
          .where(eq(stockLevels.sku, line.sku));
      }
      const [committed] = await tx
        .update(reservations)
        .set({ status: "COMMITTED", updatedAt: sql`now()` })
        .where(eq(reservations.reservationId, reservation.reservationId))
        .returning();
      return { ...(committed as ReservationRow), lines };
    });
    if (outcome instanceof ExpiredWhileCommitting) {
      throw new FailedPreconditionError(
        `the reservation of order ${orderId} expired at ${outcome.reservation.expiresAt.toISOString()}; ` +
          "its stock was released and it can no longer be committed",
      );
    }
    return outcome;
  }

  /**
   * Expires due reservations (RESERVED past their expiry time), one transaction each, claiming them
   * with FOR UPDATE SKIP LOCKED; returns how many it expired (at most `limit`).
   */
  async expireDue(limit: number): Promise<number> {
    let expired = 0;
    while (expired < limit) {
      const done = await this.db.transaction(async (tx) => {
        const [due] = await tx
          .select()
          .from(reservations)
          .where(and(eq(reservations.status, "RESERVED"), lte(reservations.expiresAt, sql`now()`)))
          .orderBy(asc(reservations.expiresAt))
          .limit(1)
          .for("update", { skipLocked: true });
        if (!due) return false;
        await this.giveBack(tx, due, "EXPIRED", "reservation expired before it was committed");
        return true;
      });
      if (!done) break;
      expired++;
    }
    return expired;
  }

  /**
   * Adds `delta` units to a SKU's on-hand stock (or removes them), creating the SKU's entry when it
   * has none; records the change in the audit trail. FAILED_PRECONDITION when on-hand stock would drop
   * below the reserved units.
   */
  async adjust(adjustment: StockAdjustment): Promise<StockLevelRow> {
    return this.db.transaction(async (tx) => {
      await tx.insert(stockLevels).values({ sku: adjustment.sku, onHand: 0 }).onConflictDoNothing();
      const [before] = await tx
        .select()
        .from(stockLevels)
        .where(eq(stockLevels.sku, adjustment.sku))
        .for("no key update");
      if (!before) throw new Error(`stock of ${adjustment.sku} vanished`);
      const onHand = before.onHand + adjustment.delta;
      if (onHand < before.reserved) {
        throw new FailedPreconditionError(
          `on-hand stock of ${adjustment.sku} cannot drop below the ${before.reserved} reserved units ` +
            `(on hand ${before.onHand}, delta ${adjustment.delta})`,
        );
      }
      if (onHand > maxOnHand) throw new FailedPreconditionError(`on-hand stock of ${adjustment.sku} would overflow`);
      const [after] = await tx
        .update(stockLevels)
        .set({ onHand, updatedAt: sql`now()` })
        .where(eq(stockLevels.sku, adjustment.sku))
        .returning();
      await tx
        .insert(stockAdjustments)
        .values({ sku: adjustment.sku, delta: adjustment.delta, reason: adjustment.reason, onHandAfter: onHand });
      await this.announceDepleted(tx, [before], [after as StockLevelRow]);
      return after as StockLevelRow;
    });
  }

  /**
   * Creates the stock entry of a new SKU in `tx` (the consumer's transaction) with `onHand` units;
   * a SKU that has an entry already is left alone. Returns true when it created one.
   */
  async addStockEntry(tx: InventoryTx, sku: string, onHand: number, reason: string): Promise<boolean> {
    const [created] = await tx.insert(stockLevels).values({ sku, onHand }).onConflictDoNothing().returning();
    if (!created) return false;
    if (onHand > 0) await tx.insert(stockAdjustments).values({ sku, delta: onHand, reason, onHandAfter: onHand });
    return true;
  }

  private async lockReservation(tx: InventoryTx, orderId: string): Promise<ReservationRow> {
    const [row] = await tx.select().from(reservations).where(eq(reservations.orderId, orderId)).for("update");
    if (!row) throw new NotFoundError(`order ${orderId} has no reservation`);
    return row;
  }

  /** Returns a RESERVED or COMMITTED reservation's units and moves it to `status`, announcing it. */
  private async giveBack(
    tx: InventoryTx,
    row: ReservationRow,
    status: Extract<ReservationStatusName, "RELEASED" | "EXPIRED">,
    reason: string,
  ): Promise<ReservationView> {
    const lines = await this.linesOf(tx, row.reservationId);
    for (const line of lines) {
      const change =
        row.status === "COMMITTED"
          ? { onHand: sql`${stockLevels.onHand} + ${line.quantity}` }
          : { reserved: sql`${stockLevels.reserved} - ${line.quantity}` };
      await tx
        .update(stockLevels)
        .set({ ...change, updatedAt: sql`now()` })
        .where(eq(stockLevels.sku, line.sku));
    }
    const [updated] = await tx
      .update(reservations)
      .set({ status, releaseReason: reason, updatedAt: sql`now()` })
      .where(eq(reservations.reservationId, row.reservationId))
      .returning();
    const reservation: ReservationView = { ...(updated as ReservationRow), lines };
    await this.events.released(tx, reservation, reason);
    return reservation;
  }

  private async announceDepleted(
    tx: InventoryTx,
    before: readonly StockLevelRow[],
    after: readonly StockLevelRow[],
  ): Promise<void> {
    const depleted = new Set(depletedSkus(before, after));
    for (const level of after) if (depleted.has(level.sku)) await this.events.depleted(tx, level);
  }

  private async linesOf(db: Db<Schema> | InventoryTx, reservationId: string): Promise<StockLineInput[]> {
    const rows = await db
      .select({ sku: reservationLines.sku, quantity: reservationLines.quantity })
      .from(reservationLines)
      .where(eq(reservationLines.reservationId, reservationId))
      .orderBy(bySkuBytes(reservationLines.sku));
    return sortBySku(rows);
  }

  private async withLines(db: Db<Schema> | InventoryTx, row: ReservationRow): Promise<ReservationView> {
    return { ...row, lines: await this.linesOf(db, row.reservationId) };
  }
}
