import { check, InvalidArgumentError, validateSku } from "@agora/service-kit";

/** A quantity of one SKU, validated. */
export interface StockLineInput {
  readonly sku: string;
  readonly quantity: number;
}

/** Stock of one SKU as stored. */
export interface StockCounts {
  readonly sku: string;
  readonly onHand: number;
  readonly reserved: number;
}

/** A line that cannot be held: what was asked for and what there is. */
export interface Shortage {
  readonly sku: string;
  readonly requested: number;
  /** Units that could still be reserved; 0 for a SKU inventory does not stock. */
  readonly available: number;
  /** False when inventory has no stock entry for the SKU at all. */
  readonly stocked: boolean;
}

/** Most units of one SKU in a single reservation line. */
export const maxLineQuantity = 10_000;
/** Most lines in one reservation. */
export const maxReservationLines = 50;
/** Most SKUs in one GetStock request. */
export const maxStockQuery = 100;
/** Largest change AdjustStock makes in one call. */
export const maxAdjustment = 1_000_000;
/** Largest on-hand stock a SKU may have (the column is a 32-bit integer). */
export const maxOnHand = 2_147_483_647;

/** Units of a SKU that can still be reserved. */
export function availableOf(stock: StockCounts): number {
  return stock.onHand - stock.reserved;
}

/** Checks an order id: a UUID, as the order service issues them (lower-cased). */
export function validateOrderId(field: string, value: string | undefined): string {
  return check.uuid(field, value);
}

/**
 * Checks the lines of a ReserveStock request: 1 to 50, one per SKU, each with a valid SKU and a
 * quantity from 1 to 10,000. Returns them sorted by SKU — the order in which stock rows are locked,
 * the same in every transaction, so two reservations can never wait on each other in a cycle.
 */
export function validateStockLines(
  field: string,
  lines: readonly { sku?: string; quantity?: number }[] | undefined,
): StockLineInput[] {
  const given = check.list(field, lines, { min: 1, max: maxReservationLines });
  const seen = new Map<string, number>();
  const valid = given.map((line, index) => {
    const sku = validateSku(`${field}[${index}].sku`, line.sku);
    const quantity = check.integer(`${field}[${index}].quantity`, line.quantity, { min: 1, max: maxLineQuantity });
    const earlier = seen.get(sku);
    if (earlier !== undefined) {
      throw new InvalidArgumentError(
        `${field}[${index}].sku`,
        `${sku} appears twice (also ${field}[${earlier}]); use one line per SKU`,
      );
    }
    seen.set(sku, index);
    return { sku, quantity };
  });
  return sortBySku(valid);
}

/** Checks the SKUs of a GetStock request (1 to 100); keeps their order. */
export function validateSkuList(field: string, skus: readonly string[] | undefined): string[] {
  return check
    .list(field, skus, { min: 1, max: maxStockQuery })
    .map((sku, index) => validateSku(`${field}[${index}]`, sku));
}

/** A validated AdjustStock request. */
export interface StockAdjustment {
  readonly sku: string;
  readonly delta: number;
  readonly reason: string;
}

/** Checks an AdjustStock request: a valid SKU, a non-zero delta within ±1,000,000 and a reason. */
export function validateAdjustment(request: { sku?: string; delta?: number; reason?: string }): StockAdjustment {
  const sku = validateSku("sku", request.sku);
  const delta = check.integer("delta", request.delta, { min: -maxAdjustment, max: maxAdjustment });
  if (delta === 0) throw new InvalidArgumentError("delta", "must not be 0");
  const reason = check.text("reason", request.reason, { max: 500 });
  return { sku, delta, reason };
}

/** Lines sorted by SKU (a copy). */
export function sortBySku<T extends { sku: string }>(lines: readonly T[]): T[] {
  return [...lines].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
}

/** True when two sets of lines hold the same quantity of the same SKUs, in whatever order. */
export function sameLines(a: readonly StockLineInput[], b: readonly StockLineInput[]): boolean {
  if (a.length !== b.length) return false;
  const sortedA = sortBySku(a);
  const sortedB = sortBySku(b);
  return sortedA.every((line, index) => line.sku === sortedB[index]?.sku && line.quantity === sortedB[index]?.quantity);
}

/** The lines that the stock cannot cover (all-or-nothing: one shortage fails the whole reservation). */
export function findShortages(lines: readonly StockLineInput[], stock: readonly StockCounts[]): Shortage[] {
  const bySku = new Map(stock.map((level) => [level.sku, level]));
  const shortages: Shortage[] = [];
  for (const line of lines) {
    const level = bySku.get(line.sku);
    const available = level ? availableOf(level) : 0;
    if (available < line.quantity) {
      shortages.push({ sku: line.sku, requested: line.quantity, available, stocked: level !== undefined });
    }
  }
  return shortages;
}

/** "out of stock: AG-KIT-001 (2 requested, 1 available), AG-NEW-9 (not stocked)" — names every short SKU. */
export function describeShortages(shortages: readonly Shortage[]): string {
  const parts = shortages.map((shortage) =>
    shortage.stocked
      ? `${shortage.sku} (${shortage.requested} requested, ${shortage.available} available)`
      : `${shortage.sku} (not stocked)`,
  );
  return `out of stock: ${parts.join(", ")}`;
}

/** SKUs whose available stock went from above zero to zero between two snapshots (stock_depleted). */
export function depletedSkus(before: readonly StockCounts[], after: readonly StockCounts[]): string[] {
  const previous = new Map(before.map((level) => [level.sku, availableOf(level)]));
  return after
    .filter((level) => availableOf(level) === 0 && (previous.get(level.sku) ?? 0) > 0)
    .map((level) => level.sku);
}
