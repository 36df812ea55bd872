import { type Reservation, ReservationStatus, type StockLevel } from "@agora/contracts/agora/inventory/v1/inventory";
import type { ReservationStatusName, StockLevelRow } from "./db/schema";
import { availableOf } from "./stock-rules";
import type { ReservationView } from "./stock-store";

const statuses: Record<ReservationStatusName, ReservationStatus> = {
  RESERVED: ReservationStatus.RESERVATION_STATUS_RESERVED,
  COMMITTED: ReservationStatus.RESERVATION_STATUS_COMMITTED,
  RELEASED: ReservationStatus.RESERVATION_STATUS_RELEASED,
  EXPIRED: ReservationStatus.RESERVATION_STATUS_EXPIRED,
};

/** A stock row as the proto StockLevel (available = on_hand − reserved). */
export function toStockLevel(row: StockLevelRow): StockLevel {
  return {
    sku: row.sku,
    onHand: row.onHand,
    reserved: row.reserved,
    available: availableOf(row),
    updateTime: row.updatedAt,
  };
}

/** A reservation with its lines as the proto Reservation. */
export function toReservation(view: ReservationView): Reservation {
  return {
    reservationId: view.reservationId,
    orderId: view.orderId,
    lines: view.lines.map((line) => ({ sku: line.sku, quantity: line.quantity })),
    status: statuses[view.status],
    expireTime: view.expiresAt,
    createTime: view.createdAt,
    updateTime: view.updatedAt,
  };
}
