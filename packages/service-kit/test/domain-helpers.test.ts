import { check, InvalidArgumentError, money, NotFoundError, pageOf, pageToken, readPage } from "../src";

describe("money", () => {
  it("converts between Money and exact amounts, keeping the sign on both parts", () => {
    const amount = money.amountOf({ currencyCode: "EUR", units: 12, nanos: 500_000_000 });
    expect(amount).toEqual({ currency: "EUR", nanos: 12_500_000_000n });
    expect(money.toMoney(money.multiply(amount, 3))).toEqual({ currencyCode: "EUR", units: 37, nanos: 500_000_000 });
    expect(money.toMoney({ currency: "EUR", nanos: -1_250_000_000n })).toEqual({
      currencyCode: "EUR",
      units: -1,
      nanos: -250_000_000,
    });
  });

  it("adds and subtracts only within one currency", () => {
    const a = { currency: "EUR", nanos: 1n };
    expect(money.add(a, a).nanos).toBe(2n);
    expect(money.subtract(a, a).nanos).toBe(0n);
    expect(() => money.add(a, { currency: "USD", nanos: 1n })).toThrow(/EUR and USD/);
  });

  it("formats with at least two decimals", () => {
    expect(money.formatAmount({ currency: "EUR", nanos: 59_900_000_000n })).toBe("59.90 EUR");
    expect(money.formatAmount({ currency: "EUR", nanos: 5_000_000_000n })).toBe("5.00 EUR");
    expect(money.formatAmount({ currency: "USD", nanos: 1_234_500_000n })).toBe("1.2345 USD");
  });

  it.each([
    [undefined, "price: is required"],
    [{ currencyCode: "eur", units: 1, nanos: 0 }, "price.currency_code"],
    [{ currencyCode: "EUR", units: 1, nanos: 1_000_000_000 }, "price.nanos"],
    [{ currencyCode: "EUR", units: 1, nanos: -5 }, "same sign"],
    [{ currencyCode: "EUR", units: 0, nanos: 0 }, "price: must be positive"],
  ])("rejects %j naming the field", (value, message) => {
    expect(() => money.validateMoney("price", value)).toThrow(message);
  });
});

describe("check", () => {
  it("trims text and enforces lengths with field names", () => {
    expect(check.text("name", "  Kettle ", { max: 10 })).toBe("Kettle");
    expect(() => check.text("name", "   ", { max: 10 })).toThrow("name: is required");
    expect(() => check.text("name", "x".repeat(11), { max: 10 })).toThrow("name: must have at most 10 characters");
  });

  it("checks integers, lists, patterns and UUIDs", () => {
    expect(() => check.integer("lines[0].quantity", 0, { min: 1, max: 100 })).toThrow(
      "lines[0].quantity: must be between 1 and 100",
    );
    expect(() => check.list("lines", [], { min: 1, max: 5 })).toThrow("lines: must not be empty");
    expect(() => check.pattern("sku", "ab", /^[A-Z]+$/, "upper case")).toThrow("sku: must be upper case");
    expect(check.uuid("order_id", "0B6E1C1E-5D1B-4C55-9D3F-2C1E0F0A9B11")).toBe("0b6e1c1e-5d1b-4c55-9d3f-2c1e0f0a9b11");
    expect(() => check.uuid("order_id", "42")).toThrow(InvalidArgumentError);
  });
});

describe("paging", () => {
  const isCursor = (value: unknown): value is { id: string } =>
    typeof value === "object" && value !== null && typeof (value as { id: unknown }).id === "string";

  it("defaults the size and round-trips cursors through opaque tokens", () => {
    expect(readPage(undefined, isCursor)).toEqual({ size: 20 });
    const token = pageToken({ id: "p-9" });
    expect(readPage({ pageSize: 5, pageToken: token }, isCursor)).toEqual({ size: 5, after: { id: "p-9" } });
  });

  it("rejects bad sizes and foreign tokens naming the field", () => {
    expect(() => readPage({ pageSize: 101, pageToken: "" }, isCursor)).toThrow("page.page_size");
    expect(() => readPage({ pageSize: -1, pageToken: "" }, isCursor)).toThrow("page.page_size");
    expect(() => readPage({ pageSize: 0, pageToken: "not-a-token" }, isCursor)).toThrow("page.page_token");
    expect(() => readPage({ pageSize: 0, pageToken: pageToken({ other: 1 }) }, isCursor)).toThrow("page.page_token");
  });

  it("splits an over-fetched result into a page and the next token", () => {
    const rows = [{ id: "a" }, { id: "b" }, { id: "c" }];
    expect(pageOf(rows, 2, (row) => row)).toEqual({ items: rows.slice(0, 2), nextPageToken: pageToken({ id: "b" }) });
    expect(pageOf(rows, 3, (row) => row)).toEqual({ items: rows, nextPageToken: "" });
  });
});

describe("ownedCustomerId", () => {
  const { ownedCustomerId } = require("../src") as typeof import("../src");
  it("lets a trusted service name any customer, and requires one", () => {
    expect(ownedCustomerId("customer_id", "c-1", undefined)).toBe("c-1");
    expect(() => ownedCustomerId("customer_id", "", undefined)).toThrow("customer_id: is required");
  });
  it("gives an authenticated customer their own data, empty meaning mine, and NOT_FOUND for others", () => {
    expect(ownedCustomerId("customer_id", "", "c-1")).toBe("c-1");
    expect(ownedCustomerId("customer_id", "c-1", "c-1")).toBe("c-1");
    expect(() => ownedCustomerId("customer_id", "c-2", "c-1")).toThrow(NotFoundError);
  });
});
