import {
  availableOf,
  depletedSkus,
  describeShortages,
  findShortages,
  sameLines,
  validateAdjustment,
  validateOrderId,
  validateSkuList,
  validateStockLines,
} from "../src/stock-rules";

describe("validateStockLines", () => {
  it("returns the lines sorted by SKU, byte order, the order stock rows are locked in", () => {
    expect(
      validateStockLines("lines", [
        { sku: "ABB", quantity: 1 },
        { sku: "AB-C", quantity: 2 },
        { sku: "A1", quantity: 3 },
      ]),
    ).toEqual([
      { sku: "A1", quantity: 3 },
      { sku: "AB-C", quantity: 2 },
      { sku: "ABB", quantity: 1 },
    ]);
  });

  it.each([
    ["no lines", [], "lines: must not be empty"],
    [
      "51 lines",
      Array.from({ length: 51 }, (_, index) => ({ sku: `S${index}`, quantity: 1 })),
      "lines: must have at most 50",
    ],
    ["an empty SKU", [{ sku: "", quantity: 1 }], "lines[0].sku: is required"],
    ["a lower-case SKU", [{ sku: "a-1", quantity: 1 }], "lines[0].sku: must be upper case"],
    ["quantity 0", [{ sku: "A-1", quantity: 0 }], "lines[0].quantity: must be between 1 and 10000"],
    ["quantity 10001", [{ sku: "A-1", quantity: 10_001 }], "lines[0].quantity: must be between 1 and 10000"],
    ["a fractional quantity", [{ sku: "A-1", quantity: 1.5 }], "lines[0].quantity: must be an integer"],
    [
      "a SKU twice",
      [
        { sku: "A-1", quantity: 1 },
        { sku: "B-1", quantity: 1 },
        { sku: "A-1", quantity: 2 },
      ],
      "lines[2].sku: A-1 appears twice (also lines[0])",
    ],
  ])("rejects %s naming the field", (_label, lines, message) => {
    expect(() => validateStockLines("lines", lines)).toThrow(message);
  });
});

describe("request checks", () => {
  it("wants order ids as UUIDs", () => {
    expect(validateOrderId("order_id", "0B6E1C1E-5D1B-4C55-9D3F-2C1E0F0A9B11")).toBe(
      "0b6e1c1e-5d1b-4c55-9d3f-2c1e0f0a9b11",
    );
    expect(() => validateOrderId("order_id", "order-1")).toThrow("order_id: must be a UUID");
    expect(() => validateOrderId("order_id", "")).toThrow("order_id: is required");
  });

  it("checks GetStock SKUs with their index", () => {
    expect(validateSkuList("skus", ["B", "A"])).toEqual(["B", "A"]);
    expect(() => validateSkuList("skus", [])).toThrow("skus: must not be empty");
    expect(() => validateSkuList("skus", ["OK", "bad"])).toThrow("skus[1]: must be upper case");
  });

  it("checks adjustments: non-zero bounded delta and a reason", () => {
    expect(validateAdjustment({ sku: "AG-1", delta: -3, reason: " stocktake " })).toEqual({
      sku: "AG-1",
      delta: -3,
      reason: "stocktake",
    });
    expect(() => validateAdjustment({ sku: "AG-1", delta: 0, reason: "x" })).toThrow("delta: must not be 0");
    expect(() => validateAdjustment({ sku: "AG-1", delta: 2_000_000, reason: "x" })).toThrow("delta: must be between");
    expect(() => validateAdjustment({ sku: "AG-1", delta: 1, reason: "" })).toThrow("reason: is required");
    expect(() => validateAdjustment({ sku: "", delta: 1, reason: "x" })).toThrow("sku: is required");
  });
});

describe("reservation rules", () => {
  const stock = [
    { sku: "A", onHand: 10, reserved: 9 },
    { sku: "B", onHand: 5, reserved: 0 },
  ];

  it("computes available as on hand minus reserved", () => {
    expect(availableOf({ sku: "A", onHand: 10, reserved: 9 })).toBe(1);
  });

  it("finds every line the stock cannot cover, unknown SKUs included", () => {
    const shortages = findShortages(
      [
        { sku: "A", quantity: 2 },
        { sku: "B", quantity: 5 },
        { sku: "C", quantity: 1 },
      ],
      stock,
    );
    expect(shortages).toEqual([
      { sku: "A", requested: 2, available: 1, stocked: true },
      { sku: "C", requested: 1, available: 0, stocked: false },
    ]);
    expect(describeShortages(shortages)).toBe("out of stock: A (2 requested, 1 available), C (not stocked)");
  });

  it("finds no shortage when every line fits exactly", () => {
    expect(findShortages([{ sku: "A", quantity: 1 }], stock)).toEqual([]);
  });

  it("compares lines as sets, regardless of order", () => {
    const a = [
      { sku: "A", quantity: 1 },
      { sku: "B", quantity: 2 },
    ];
    expect(sameLines(a, [...a].reverse())).toBe(true);
    expect(sameLines(a, [{ sku: "A", quantity: 1 }])).toBe(false);
    expect(
      sameLines(a, [
        { sku: "A", quantity: 1 },
        { sku: "B", quantity: 3 },
      ]),
    ).toBe(false);
  });

  it("reports a SKU as depleted only when its available stock drops to zero", () => {
    const before = [
      { sku: "A", onHand: 2, reserved: 1 },
      { sku: "B", onHand: 3, reserved: 0 },
      { sku: "C", onHand: 0, reserved: 0 },
    ];
    const after = [
      { sku: "A", onHand: 2, reserved: 2 },
      { sku: "B", onHand: 3, reserved: 1 },
      { sku: "C", onHand: 0, reserved: 0 },
    ];
    expect(depletedSkus(before, after)).toEqual(["A"]);
  });
});
