import { PermanentEventError } from "@agora/service-kit";
import { validateAddress } from "../src/addresses";
import { orderToShip } from "../src/orders-to-ship";
import { quoteShipping, validateItems, zoneOf } from "../src/shipping-rates";
import { isValidTrackingNumber, s10CheckDigit, trackingNumber } from "../src/tracking-numbers";

const berlin = {
  recipientName: "Ada Lovelace",
  addressLines: ["Unter den Linden 1"],
  city: "Berlin",
  postalCode: "10117",
  countryCode: "DE",
  region: "",
};

/** A test title's view of a value: JSON, cut short. */
function shortJson(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

describe("validateAddress", () => {
  it("accepts and normalises an address", () => {
    expect(validateAddress("address", { ...berlin, city: " Berlin " })).toEqual(berlin);
    expect(
      validateAddress("address", {
        ...berlin,
        countryCode: "GB",
        postalCode: "sw1a 1aa",
        addressLines: ["10 Downing St", "Westminster"],
      }).postalCode,
    ).toBe("SW1A 1AA");
    expect(validateAddress("address", { ...berlin, countryCode: "HK", postalCode: "" }).postalCode).toBe("");
    expect(validateAddress("address", { ...berlin, countryCode: "JP", postalCode: "100-0001" }).countryCode).toBe("JP");
  });

  it.each(
    (
      [
        [undefined, "address: is required"],
        [{ countryCode: "" }, "address.country_code: is required"],
        [{ countryCode: "de" }, "address.country_code: must be an ISO 3166-1 alpha-2 code"],
        [{ countryCode: "ZZ" }, "address.country_code: ZZ is not an ISO 3166-1 country code"],
        [{ recipientName: " " }, "address.recipient_name: is required"],
        [{ addressLines: [] }, "address.address_lines: must not be empty"],
        [{ addressLines: ["a", "b", "c", "d"] }, "address.address_lines: must have at most 3 entries"],
        [{ addressLines: ["Main St 1", ""] }, "address.address_lines[1]: is required"],
        [{ city: "" }, "address.city: is required"],
        [{ postalCode: "" }, "address.postal_code: is required"],
        [{ postalCode: "1011" }, "address.postal_code: is not a postal code of DE (for example 10115)"],
        [{ countryCode: "JP", postalCode: "@@" }, "address.postal_code: must be 2 to 12 letters"],
        [{ countryCode: "US", postalCode: "94103" }, "address.region: is required for addresses in US"],
        [{ region: "r".repeat(101) }, "address.region: must have at most 100 characters"],
      ] as const
    ).map(([change, message]) => ({ label: shortJson(change), change, message })),
  )("rejects $label naming the field", ({ change, message }) => {
    const lines: readonly string[] | undefined = change && "addressLines" in change ? change.addressLines : undefined;
    const address =
      change === undefined ? undefined : { ...berlin, ...change, addressLines: [...(lines ?? berlin.addressLines)] };
    expect(() => validateAddress("address", address)).toThrow(message);
  });
});

describe("shipping rates", () => {
  const items = (...quantities: number[]) => quantities.map((quantity, index) => ({ sku: `S-${index}`, quantity }));

  it("puts countries into zones from the warehouse in Germany", () => {
    expect(["DE", "FR", "CH", "US"].map(zoneOf)).toEqual(["domestic", "eu", "europe", "world"]);
  });

  it.each([
    ["DE", [1], 4.9, "agora-post", 2],
    ["DE", [2, 1], 5.9, "agora-post", 2],
    ["FR", [1], 9.9, "agora-post", 4],
    ["NO", [3], 17.9, "agora-post", 5],
    ["JP", [1, 1], 27.4, "agora-global", 8],
    ["DE", [21], 14.9, "agora-post", 3],
  ])("ships to %s with %j units for %d EUR by %s in %d days", (countryCode, quantities, euros, carrier, days) => {
    const quote = quoteShipping({ countryCode }, items(...quantities));
    expect(quote).toEqual({
      cost: { currency: "EUR", nanos: BigInt(Math.round(euros * 100)) * 10_000_000n },
      carrier,
      estimatedDays: days,
    });
    expect(quoteShipping({ countryCode }, items(...quantities))).toEqual(quote);
  });

  it("checks items with their index", () => {
    expect(validateItems("items", [{ sku: "AG-1", quantity: 2 }])).toEqual([{ sku: "AG-1", quantity: 2 }]);
    expect(() => validateItems("items", [])).toThrow("items: must not be empty");
    expect(() => validateItems("items", [{ sku: "ag", quantity: 1 }])).toThrow("items[0].sku: must be upper case");
    expect(() => validateItems("items", [{ sku: "AG-1", quantity: 1001 }])).toThrow(
      "items[0].quantity: must be between 1 and 1000",
    );
    expect(() =>
      validateItems("items", [
        { sku: "AG-1", quantity: 1 },
        { sku: "AG-1", quantity: 1 },
      ]),
    ).toThrow("items[1].sku: AG-1 appears twice (also items[0])");
  });
});

describe("tracking numbers (UPU S10)", () => {
  it("computes the check digit as postal carriers do", () => {
    expect(s10CheckDigit("12345678")).toBe(5);
    expect(s10CheckDigit("87654321")).toBe(6);
    expect(trackingNumber(1)).toBe("AG000000014DE");
    expect(trackingNumber(12_345_678)).toBe("AG123456785DE");
    expect(isValidTrackingNumber("EE876543216CA")).toBe(true);
    expect(isValidTrackingNumber("EE876543217CA")).toBe(false);
  });

  it("maps the check digit's special cases: 10 → 0 and 11 → 5", () => {
    expect(s10CheckDigit("00000008")).toBe(0); // weighted sum 56 ≡ 1 (mod 11): 11 − 1 = 10 → 0
    expect(s10CheckDigit("00000000")).toBe(5); // weighted sum 0: 11 − 0 = 11 → 5
    for (let serial = 0; serial < 3000; serial += 7) expect(isValidTrackingNumber(trackingNumber(serial))).toBe(true);
  });
});

describe("orderToShip", () => {
  const order = {
    orderId: "0B6E1C1E-5D1B-4C55-9D3F-2C1E0F0A9B11",
    customerId: "customer-1",
    status: 2,
    lines: [
      { productId: "a", sku: "AG-1", name: "A", quantity: 2 },
      { productId: "b", sku: "AG-2", name: "B", quantity: 1 },
      { productId: "a2", sku: "AG-1", name: "A again", quantity: 1 },
    ],
    shippingAddress: berlin,
    paymentMethodSummary: "",
    paymentId: "",
    statusReason: "",
    history: [],
  };

  it("takes id, customer, address and the units per SKU from a confirmed order", () => {
    expect(orderToShip(order)).toEqual({
      orderId: "0b6e1c1e-5d1b-4c55-9d3f-2c1e0f0a9b11",
      customerId: "customer-1",
      address: berlin,
      items: [
        { sku: "AG-1", quantity: 3 },
        { sku: "AG-2", quantity: 1 },
      ],
    });
  });

  it("refuses for good (dead letter) an order that cannot be shipped", () => {
    expect(() => orderToShip({ ...order, shippingAddress: undefined })).toThrow(PermanentEventError);
    expect(() => orderToShip({ ...order, shippingAddress: undefined })).toThrow(
      "order cannot be shipped: order.shipping_address: is required",
    );
    expect(() => orderToShip({ ...order, lines: [] })).toThrow("order.lines: must not be empty");
    expect(() => orderToShip(undefined)).toThrow("order: is required");
  });
});
