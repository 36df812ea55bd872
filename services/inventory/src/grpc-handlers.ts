import type { InventoryServiceService } from "@agora/contracts/agora/inventory/v1/inventory_service";
import { check, type ServiceHandlers } from "@agora/service-kit";
import { toReservation, toStockLevel } from "./proto-mapping";
import { validateAdjustment, validateOrderId, validateSkuList, validateStockLines } from "./stock-rules";
import type { StockStore } from "./stock-store";

/** The InventoryService RPCs: validate the request, call the store, map rows to protos. */
export function inventoryHandlers(store: StockStore): ServiceHandlers<typeof InventoryServiceService> {
  return {
    async getStock(request) {
      const skus = validateSkuList("skus", request.skus);
      return { levels: (await store.getStock(skus)).map(toStockLevel) };
    },

    async reserveStock(request) {
      const orderId = validateOrderId("order_id", request.orderId);
      const lines = validateStockLines("lines", request.lines);
      const { reservation } = await store.reserve(orderId, lines);
      return { reservation: toReservation(reservation) };
    },

    async releaseReservation(request) {
      const orderId = validateOrderId("order_id", request.orderId);
      const reason = check.optionalText("reason", request.reason, { max: 500 }) || "released by the caller";
      return { reservation: toReservation(await store.release(orderId, reason)) };
    },

    async commitReservation(request) {
      const orderId = validateOrderId("order_id", request.orderId);
      return { reservation: toReservation(await store.commit(orderId)) };
    },

    async adjustStock(request) {
      return { level: toStockLevel(await store.adjust(validateAdjustment(request))) };
    },
  };
}
