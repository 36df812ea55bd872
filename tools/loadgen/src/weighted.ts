import type { Random } from "./random";

/**
 * Picks among entries in proportion to their weights: with weights browse=3 and place-order=1, three
 * picks in four are "browse" on average. Entries of weight 0 are never picked.
 */
export class WeightedChoice<T> {
  private readonly items: T[] = [];
  private readonly cumulative: number[] = [];
  private readonly total: number;

  constructor(entries: Iterable<readonly [T, number]>) {
    let total = 0;
    for (const [item, weight] of entries) {
      if (!Number.isFinite(weight) || weight < 0)
        throw new Error(`weight of ${String(item)} must be >= 0, got ${weight}`);
      if (weight === 0) continue;
      total += weight;
      this.items.push(item);
      this.cumulative.push(total);
    }
    if (total <= 0) throw new Error("at least one weight must be greater than 0");
    this.total = total;
  }

  /** The entries that can be picked, with their probability. */
  probabilities(): Array<[T, number]> {
    return this.items.map((item, index) => {
      const weight = (this.cumulative[index] ?? 0) - (index === 0 ? 0 : (this.cumulative[index - 1] ?? 0));
      return [item, weight / this.total];
    });
  }

  /** One entry, chosen with probability weight / total (binary search over the cumulative weights). */
  pick(random: Random): T {
    const target = random() * this.total;
    let low = 0;
    let high = this.cumulative.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.cumulative[middle] ?? 0) > target) high = middle;
      else low = middle + 1;
    }
    return this.items[low] as T;
  }
}

/**
 * Parses a weight list such as "place-order=1,browse=3" (a bare name means weight 1). Names must be
 * among `known`; each may appear once; weights are non-negative numbers and at least one is positive.
 */
export function parseWeights(spec: string, known: readonly string[]): Map<string, number> {
  const weights = new Map<string, number>();
  for (const part of spec.split(",")) {
    const entry = part.trim();
    if (entry === "") continue;
    const [rawName = "", rawWeight, ...rest] = entry.split("=");
    const name = rawName.trim();
    if (rest.length > 0) throw new Error(`"${entry}": expected NAME=WEIGHT`);
    if (!known.includes(name)) throw new Error(`unknown flow "${name}"; known flows: ${known.join(", ")}`);
    if (weights.has(name)) throw new Error(`flow "${name}" is given twice`);
    const weight = rawWeight === undefined ? 1 : Number(rawWeight.trim());
    if (rawWeight !== undefined && rawWeight.trim() === "") throw new Error(`"${entry}": weight is missing`);
    if (!Number.isFinite(weight) || weight < 0) {
      throw new Error(`"${entry}": weight must be a number >= 0`);
    }
    weights.set(name, weight);
  }
  if (weights.size === 0) throw new Error("no flows given");
  if (![...weights.values()].some((weight) => weight > 0)) throw new Error("at least one flow needs a weight > 0");
  return weights;
}
