/** A source of uniformly distributed numbers in [0, 1), like Math.random. */
export type Random = () => number;

/**
 * A small, fast, seeded pseudo-random generator (mulberry32). The same seed gives the same sequence,
 * so a run with `--seed` picks the same flows and products again; not for anything secret.
 */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seed for {@link seededRandom} when the user gave none. */
export function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 32);
}

/** An integer in [min, max], both included. */
export function randomInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** One element of a non-empty list, uniformly. */
export function pickOne<T>(random: Random, items: readonly T[]): T {
  if (items.length === 0) throw new Error("pickOne: empty list");
  return items[Math.floor(random() * items.length)] as T;
}

/** `count` distinct elements of `items` (all of them when there are fewer), in random order. */
export function pickDistinct<T>(random: Random, items: readonly T[], count: number): T[] {
  const pool = [...items];
  const picked: T[] = [];
  while (picked.length < count && pool.length > 0) {
    const index = Math.floor(random() * pool.length);
    picked.push(pool[index] as T);
    pool.splice(index, 1);
  }
  return picked;
}
