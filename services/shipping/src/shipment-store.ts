import { randomUUID } from "node:crypto";
import type { Address } from "@agora/contracts/agora/common/v1/address";
import { type Db, resultRows, type Tx } from "@agora/service-kit";
import { and, asc, eq, lte, sql } from "drizzle-orm";
import type * as schema from "./db/schema";
import { cancelledOrders, type ShipmentRow, shipments } from "./db/schema";
import { type ParcelItem, quoteShipping } from "./shipping-rates";
import { trackingNumber } from "./tracking-numbers";

type Schema = typeof schema;
type ShippingTx = Tx<Schema>;

/** What happens, in the same transaction, when a shipment changes: main.ts writes to the outbox. */
export interface ShipmentEvents {
  created(tx: ShippingTx, shipment: ShipmentRow): Promise<void>;
  dispatched(tx: ShippingTx, shipment: ShipmentRow): Promise<void>;
  cancelled(tx: ShippingTx, shipment: ShipmentRow): Promise<void>;
}

/** A confirmed order as shipping needs it, validated. */
export interface OrderToShip {
  readonly orderId: string;
  readonly customerId: string;
  readonly address: Address;
  readonly items: readonly ParcelItem[];
}

/** The next number of the tracking_serials sequence. */
async function nextTrackingSerial(tx: ShippingTx): Promise<number> {
  const rows = resultRows<{ serial: string | number }>(
    await tx.execute(sql`select nextval('tracking_serials')::int8 as serial`),
  );
  return Number(rows[0]?.serial);
}

/** What consuming order.confirmed did. */
export type CreateResult = "created" | "exists" | "order cancelled";
/** What consuming order.cancelled did. */
export type CancelResult = "cancelled" | "already cancelled" | "already dispatched" | "no shipment yet";

/**
 * Takes the transaction-scoped advisory lock of an order: creating and cancelling an order's shipment
 * hold it, so the two never interleave (without it, a cancellation that finds no shipment yet and a
 * creation that finds no cancellation yet could both commit, and the shipment of a cancelled order
 * would be dispatched).
 */
async function lockOrder(tx: ShippingTx, orderId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`shipping-order:${orderId}`}, 0))`);
}

/**
 * Shipments on the shipping database. Creation and cancellation of an order's shipment serialize on
 * the order's advisory lock; dispatch claims due shipments with FOR UPDATE SKIP LOCKED, and a
 * cancellation locks its shipment FOR UPDATE, so for each shipment exactly one of the two wins.
 */
export class ShipmentStore {
  constructor(
    private readonly db: Db<Schema>,
    private readonly events: ShipmentEvents,
    private readonly options: { dispatchDelayMs: number },
  ) {}

  /**
   * Creates the shipment of a confirmed order, due for dispatch after DISPATCH_DELAY_MS; one per
   * order (a repeated confirmation finds it), none for an order known to be cancelled.
   */
  async create(tx: ShippingTx, order: OrderToShip): Promise<{ result: CreateResult; shipment?: ShipmentRow }> {
    await lockOrder(tx, order.orderId);
    const [cancelled] = await tx.select().from(cancelledOrders).where(eq(cancelledOrders.orderId, order.orderId));
    if (cancelled) return { result: "order cancelled" };
    const quote = quoteShipping(order.address, order.items);
    const [created] = await tx
      .insert(shipments)
      .values({
        shipmentId: randomUUID(),
        orderId: order.orderId,
        customerId: order.customerId,
        status: "CREATED",
        address: order.address,
        items: order.items.map((item) => ({ sku: item.sku, quantity: item.quantity })),
        costCurrency: quote.cost.currency,
        costNanos: quote.cost.nanos,
        carrier: quote.carrier,
        estimatedDays: quote.estimatedDays,
        dispatchDueAt: sql`now() + make_interval(secs => ${this.options.dispatchDelayMs}::float8 / 1000)`,
      })
      .onConflictDoNothing({ target: shipments.orderId })
      .returning();
    if (!created) {
      const [existing] = await tx.select().from(shipments).where(eq(shipments.orderId, order.orderId));
      return { result: "exists", shipment: existing };
    }
    await this.events.created(tx, created);
    return { result: "created", shipment: created };
  }

  /**
   * Calls off the shipment of a cancelled order if it has not left yet (CANCELLED, never dispatched).
   * Unless the parcel has left, remembers the cancellation, so a confirmation consumed later creates
   * nothing. Runs in the caller's transaction (the order.cancelled consumer's, or {@link cancelShipment}'s).
   */
  async cancel(
    tx: ShippingTx,
    orderId: string,
    reason: string,
  ): Promise<{ result: CancelResult; shipment?: ShipmentRow }> {
    await lockOrder(tx, orderId);
    const [shipment] = await tx.select().from(shipments).where(eq(shipments.orderId, orderId)).for("update");
    if (shipment?.status === "DISPATCHED") return { result: "already dispatched", shipment };
    await tx.insert(cancelledOrders).values({ orderId, reason }).onConflictDoNothing();
    if (!shipment) return { result: "no shipment yet" };
    if (shipment.status === "CANCELLED") return { result: "already cancelled", shipment };
    const [cancelled] = await tx
      .update(shipments)
      .set({
        status: "CANCELLED",
        cancelReason: reason,
        dispatchDueAt: null,
        cancelledAt: sql`now()`,
        updatedAt: sql`now()`,
      })
      .where(eq(shipments.shipmentId, shipment.shipmentId))
      .returning();
    await this.events.cancelled(tx, cancelled as ShipmentRow);
    return { result: "cancelled", shipment: cancelled as ShipmentRow };
  }

  /** CancelShipment: {@link cancel} in a transaction of its own. */
  async cancelShipment(orderId: string, reason: string): Promise<{ result: CancelResult; shipment?: ShipmentRow }> {
    return this.db.transaction((tx) => this.cancel(tx, orderId, reason));
  }

  /** Hands up to `limit` due shipments to the carrier (tracking number, DISPATCHED); returns them. */
  async dispatchDue(limit: number): Promise<ShipmentRow[]> {
    return this.db.transaction(async (tx) => {
      const due = await tx
        .select()
        .from(shipments)
        .where(and(eq(shipments.status, "CREATED"), lte(shipments.dispatchDueAt, sql`now()`)))
        .orderBy(asc(shipments.dispatchDueAt))
        .limit(limit)
        .for("update", { skipLocked: true });
      const dispatched: ShipmentRow[] = [];
      for (const shipment of due) {
        const serial = await nextTrackingSerial(tx);
        const [row] = await tx
          .update(shipments)
          .set({
            status: "DISPATCHED",
            trackingNumber: trackingNumber(serial),
            dispatchDueAt: null,
            dispatchedAt: sql`now()`,
            updatedAt: sql`now()`,
          })
          .where(eq(shipments.shipmentId, shipment.shipmentId))
          .returning();
        await this.events.dispatched(tx, row as ShipmentRow);
        dispatched.push(row as ShipmentRow);
      }
      return dispatched;
    });
  }

  /** The shipment by id, or undefined. */
  async byId(shipmentId: string): Promise<ShipmentRow | undefined> {
    const [row] = await this.db.select().from(shipments).where(eq(shipments.shipmentId, shipmentId));
    return row;
  }

  /** The shipment of an order, or undefined. */
  async byOrder(orderId: string): Promise<ShipmentRow | undefined> {
    const [row] = await this.db.select().from(shipments).where(eq(shipments.orderId, orderId));
    return row;
  }
}
