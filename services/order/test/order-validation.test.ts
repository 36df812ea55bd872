import type { PlaceOrderRequest } from "@agora/contracts/agora/order/v1/order_service";
import { InvalidArgumentError, PermissionDeniedError } from "@agora/service-kit";
import {
  passesLuhn,
  requestHashOf,
  validateCancelReason,
  validateOrderId,
  validatePlaceOrder,
} from "../src/order-validation";

const now = new Date("2026-11-23T10:00:00Z");

const baseAddress = {
  recipientName: "Ada Lovelace",
  addressLines: ["12 St James's Square"],
  city: "London",
  postalCode: "SW1Y 4JH",
  countryCode: "GB",
  region: "",
};
const baseCard = { number: "4242 4242 4242 4242", expMonth: 12, expYear: 2030, cvc: "123", holderName: "Ada Lovelace" };

function request(overrides: Partial<PlaceOrderRequest> = {}): PlaceOrderRequest {
  return {
    idempotencyKey: "order-key-0001",
    customerId: "customer-1",
    lines: [
      { productId: "espresso-machine", quantity: 1 },
      { productId: "burr-grinder", quantity: 2 },
    ],
    shippingAddress: baseAddress,
    card: baseCard,
    ...overrides,
  };
}

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidArgumentError) return error.field;
    throw error;
  }
  throw new Error("expected INVALID_ARGUMENT");
}

describe("PlaceOrder validation", () => {
  it("accepts a good request and normalizes the card number", () => {
    const valid = validatePlaceOrder(request(), undefined, now);
    expect(valid.card.number).toBe("4242424242424242");
    expect(valid.lines).toEqual([
      { productId: "espresso-machine", quantity: 1 },
      { productId: "burr-grinder", quantity: 2 },
    ]);
    expect(valid.requestHash).toBe(requestHashOf(valid.lines, valid.shippingAddress));
  });

  it.each<[string, Partial<PlaceOrderRequest>]>([
    ["idempotency_key", { idempotencyKey: "" }],
    ["idempotency_key", { idempotencyKey: "short" }],
    ["idempotency_key", { idempotencyKey: "k".repeat(101) }],
    ["idempotency_key", { idempotencyKey: "has a space" }],
    ["customer_id", { customerId: "" }],
    ["lines", { lines: [] }],
    ["lines", { lines: Array.from({ length: 51 }, (_, index) => ({ productId: `p-${index}`, quantity: 1 })) }],
    ["lines[0].product_id", { lines: [{ productId: "", quantity: 1 }] }],
    ["lines[0].product_id", { lines: [{ productId: "Not An Id", quantity: 1 }] }],
    ["lines[0].quantity", { lines: [{ productId: "burr-grinder", quantity: 0 }] }],
    [
      "lines[1].quantity",
      {
        lines: [
          { productId: "a", quantity: 1 },
          { productId: "b", quantity: 101 },
        ],
      },
    ],
    [
      "lines[1].product_id",
      {
        lines: [
          { productId: "a", quantity: 1 },
          { productId: "a", quantity: 2 },
        ],
      },
    ],
    ["shipping_address", { shippingAddress: undefined }],
    ["shipping_address.country_code", { shippingAddress: { ...baseAddress, countryCode: "de" } }],
    ["shipping_address.country_code", { shippingAddress: { ...baseAddress, countryCode: "" } }],
    ["shipping_address.recipient_name", { shippingAddress: { ...baseAddress, recipientName: " " } }],
    ["shipping_address.address_lines", { shippingAddress: { ...baseAddress, addressLines: [] } }],
    ["shipping_address.address_lines[1]", { shippingAddress: { ...baseAddress, addressLines: ["a", ""] } }],
    ["shipping_address.city", { shippingAddress: { ...baseAddress, city: "" } }],
    ["shipping_address.postal_code", { shippingAddress: { ...baseAddress, postalCode: "10115!" } }],
    ["card", { card: undefined }],
    ["card.number", { card: { ...baseCard, number: "" } }],
    ["card.number", { card: { ...baseCard, number: "4242 4242 4242 4241" } }],
    ["card.number", { card: { ...baseCard, number: "4242abcd42424242" } }],
    ["card.number", { card: { ...baseCard, number: "42424242" } }],
    ["card.exp_month", { card: { ...baseCard, expMonth: 13 } }],
    ["card.exp_year", { card: { ...baseCard, expYear: 30 } }],
    ["card.exp_year", { card: { ...baseCard, expYear: 2026, expMonth: 10 } }],
    ["card.cvc", { card: { ...baseCard, cvc: "12" } }],
    ["card.holder_name", { card: { ...baseCard, holderName: "x".repeat(201) } }],
  ])("names %s when it is wrong", (field, overrides) => {
    expect(fieldOf(() => validatePlaceOrder(request(overrides), undefined, now))).toBe(field);
  });

  it("takes the customer from the gateway's token and refuses a different customer_id", () => {
    expect(validatePlaceOrder(request({ customerId: "" }), "customer-1", now).customerId).toBe("customer-1");
    expect(validatePlaceOrder(request(), "customer-1", now).customerId).toBe("customer-1");
    expect(() => validatePlaceOrder(request({ customerId: "customer-2" }), "customer-1", now)).toThrow(
      PermissionDeniedError,
    );
  });

  it("accepts an expiry year up to 50 years ahead, as payment does, and names the limit beyond", () => {
    expect(validatePlaceOrder(request({ card: { ...baseCard, expYear: 2076 } }), undefined, now).card.expYear).toBe(
      2076,
    );
    expect(() => validatePlaceOrder(request({ card: { ...baseCard, expYear: 2077 } }), undefined, now)).toThrow(
      "card.exp_year: must be at most 2076",
    );
    // The same rule next year: the limit moves with the clock, no year is hard-coded.
    const nextYear = new Date("2027-11-23T10:00:00Z");
    expect(
      validatePlaceOrder(request({ card: { ...baseCard, expYear: 2077 } }), undefined, nextYear).card.expYear,
    ).toBe(2077);
  });

  it("accepts a card without a holder name, as payment's TokenizeCard does", () => {
    expect(validatePlaceOrder(request({ card: { ...baseCard, holderName: "" } }), undefined, now).card.holderName).toBe(
      "",
    );
    expect(
      validatePlaceOrder(request({ card: { ...baseCard, holderName: "  Ada  " } }), undefined, now).card.holderName,
    ).toBe("Ada");
  });

  it("accepts a card through the end of its expiry month", () => {
    expect(() =>
      validatePlaceOrder(request({ card: { ...baseCard, expYear: 2026, expMonth: 11 } }), undefined, now),
    ).not.toThrow();
  });

  it("hashes lines and address, not the card: a retry with another card is the same order", () => {
    const a = validatePlaceOrder(request(), undefined, now);
    const b = validatePlaceOrder(request({ card: { ...baseCard, number: "4000 0000 0000 0002" } }), undefined, now);
    const c = validatePlaceOrder(request({ lines: [{ productId: "espresso-machine", quantity: 2 }] }), undefined, now);
    expect(a.requestHash).toBe(b.requestHash);
    expect(a.requestHash).not.toBe(c.requestHash);
  });

  it("checks order ids, cancel reasons and the Luhn sum", () => {
    expect(validateOrderId("order_id", "0B6E1C1E-5D1B-4C55-9D3F-2C1E0F0A9B11")).toBe(
      "0b6e1c1e-5d1b-4c55-9d3f-2c1e0f0a9b11",
    );
    expect(fieldOf(() => validateOrderId("order_id", "nope"))).toBe("order_id");
    expect(validateCancelReason("")).toBe("cancelled by the customer");
    expect(fieldOf(() => validateCancelReason("x".repeat(501)))).toBe("reason");
    expect(passesLuhn("4242424242424242")).toBe(true);
    expect(passesLuhn("4000000000000002")).toBe(true);
    expect(passesLuhn("4000000000000341")).toBe(true);
    expect(passesLuhn("4242424242424241")).toBe(false);
  });
});
