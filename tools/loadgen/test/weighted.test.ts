import { flowNames } from "../src/flows";
import { pickDistinct, seededRandom } from "../src/random";
import { parseWeights, WeightedChoice } from "../src/weighted";

describe("parseWeights", () => {
  it("reads name=weight pairs, a bare name meaning 1", () => {
    expect([...parseWeights("place-order=1, browse=3,view-product", flowNames)]).toEqual([
      ["place-order", 1],
      ["browse", 3],
      ["view-product", 1],
    ]);
    expect(parseWeights("browse=0.5,place-order=0", flowNames).get("browse")).toBe(0.5);
  });

  it.each([
    ["buy=1", /unknown flow "buy"; known flows: browse, view-product/],
    ["browse=1,browse=2", /given twice/],
    ["browse=-1", /weight must be a number >= 0/],
    ["browse=abc", /weight must be a number >= 0/],
    ["browse=", /weight is missing/],
    ["browse=1=2", /expected NAME=WEIGHT/],
    ["browse=0", /at least one flow needs a weight > 0/],
    ["", /no flows given/],
  ])("refuses %j", (spec, message) => {
    expect(() => parseWeights(spec, flowNames)).toThrow(message);
  });
});

describe("WeightedChoice", () => {
  it("picks each entry in proportion to its weight", () => {
    const choice = new WeightedChoice([
      ["a", 1],
      ["b", 3],
      ["c", 6],
      ["never", 0],
    ] as const);
    const random = seededRandom(42);
    const counts = new Map<string, number>();
    const picks = 200_000;
    for (let i = 0; i < picks; i++) {
      const picked = choice.pick(random);
      counts.set(picked, (counts.get(picked) ?? 0) + 1);
    }
    // Binomial standard deviation at n=200k is at most 0.0011; allow about 4 of them.
    expect((counts.get("a") ?? 0) / picks).toBeCloseTo(0.1, 2);
    expect(Math.abs((counts.get("b") ?? 0) / picks - 0.3)).toBeLessThan(0.005);
    expect(Math.abs((counts.get("c") ?? 0) / picks - 0.6)).toBeLessThan(0.005);
    expect(counts.has("never")).toBe(false);
    expect(choice.probabilities()).toEqual([
      ["a", 0.1],
      ["b", 0.3],
      ["c", 0.6],
    ]);
  });

  it("maps the edges of [0, 1) to the first and last entries", () => {
    const choice = new WeightedChoice([
      ["first", 1],
      ["last", 1],
    ] as const);
    expect(choice.pick(() => 0)).toBe("first");
    expect(choice.pick(() => 0.4999)).toBe("first");
    expect(choice.pick(() => 0.5)).toBe("last");
    expect(choice.pick(() => 0.999999)).toBe("last");
  });

  it("refuses weights that cannot be chosen from", () => {
    expect(() => new WeightedChoice([["a", 0]] as const)).toThrow(/greater than 0/);
    expect(() => new WeightedChoice([["a", Number.NaN]] as const)).toThrow(/must be >= 0/);
  });
});

describe("seeded randomness", () => {
  it("repeats with the same seed and differs with another", () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const c = seededRandom(8);
    const first = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(first);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(first);
    for (const value of first) expect(value >= 0 && value < 1).toBe(true);
  });

  it("picks distinct elements", () => {
    const picked = pickDistinct(seededRandom(1), ["a", "b", "c", "d"], 3);
    expect(new Set(picked).size).toBe(3);
    expect(pickDistinct(seededRandom(1), ["a", "b"], 5).sort()).toEqual(["a", "b"]);
  });
});
