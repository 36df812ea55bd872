import { ProcessorUnavailableError } from "../src/card-processor";
import { brandOf, hasExpired, passesLuhn, summaryOf, validateCard } from "../src/cards";
import type { PaymentRow } from "../src/db/schema";
import {
  authorizationMismatch,
  refundableOf,
  statusAfterRefund,
  validateAuthorization,
  validateRefund,
} from "../src/payment-rules";
import {
  behaviourOf,
  behaviourOfToken,
  ProcessorSimulator,
  type SimulatorMemory,
  testCards,
} from "../src/processor-simulator";

const now = new Date("2026-11-23T10:00:00Z");
const card = (overrides: Record<string, unknown> = {}) => ({
  number: "4242 4242 4242 4242",
  expMonth: 12,
  expYear: 2030,
  cvc: "123",
  holderName: "Ada Lovelace",
  ...overrides,
});

/** Rows of (request overrides, expected message) with a short title label for each. */
function cases<T>(rows: ReadonlyArray<readonly [T, string]>): { label: string; overrides: T; message: string }[] {
  return rows.map(([overrides, message]) => ({ label: shortJson(overrides), overrides, message }));
}

/** A test title's view of a request: JSON, cut short. */
function shortJson(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

describe("card checks", () => {
  it("accepts every documented test card by the Luhn check and rejects a changed digit", () => {
    for (const test of testCards) expect(passesLuhn(test.number)).toBe(true);
    expect(passesLuhn("4242424242424241")).toBe(false);
    expect(passesLuhn("79927398713")).toBe(true);
    expect(passesLuhn("12a4")).toBe(false);
  });

  it("tells the brand by the issuer prefix", () => {
    expect(brandOf("4242424242424242")).toBe("visa");
    expect(brandOf("5555555555554444")).toBe("mastercard");
    expect(brandOf("2223003122003222")).toBe("mastercard");
    expect(brandOf("378282246310005")).toBe("amex");
    expect(brandOf("6011111111111117")).toBe("discover");
    expect(brandOf("3530111333300000")).toBe("jcb");
    expect(brandOf("9999999999999995")).toBe("card");
  });

  it("treats a card as valid through the last day of its expiry month", () => {
    expect(hasExpired(11, 2026, now)).toBe(false);
    expect(hasExpired(10, 2026, now)).toBe(true);
    expect(hasExpired(1, 2027, now)).toBe(false);
    expect(hasExpired(12, 2025, now)).toBe(true);
  });

  it("validates a card, ignoring spaces and dashes, and keeps only brand, last four and expiry", () => {
    const validated = validateCard(card({ number: "4000-0000-0000-0341" }), now);
    expect(validated.number).toBe("4000000000000341");
    expect(summaryOf(validated)).toEqual({ brand: "visa", last4: "0341", expMonth: 12, expYear: 2030 });
    expect(validateCard(card({ cvc: "1234", holderName: "" }), now).holderName).toBe("");
  });

  it.each(
    cases([
      [{ number: "" }, "number: is required"],
      [{ number: "4242 4242 4242 424x" }, "number: must contain only digits, spaces and dashes"],
      [{ number: "42424242424" }, "number: must have 12 to 19 digits"],
      [{ number: "42424242424242424242" }, "number: must have 12 to 19 digits"],
      [{ number: "4242424242424241" }, "number: is not a valid card number (Luhn check failed)"],
      [{ expMonth: 13 }, "exp_month: must be between 1 and 12"],
      [{ expMonth: 0 }, "exp_month: must be between 1 and 12"],
      [{ expYear: 30 }, "exp_year: must be between 1000 and 9999"],
      [{ expYear: 2025 }, "exp_year: the card has expired"],
      [{ expYear: 2026, expMonth: 10 }, "exp_month: the card has expired"],
      [{ expYear: 2077 }, "exp_year: must be at most 2076"],
      [{ cvc: "" }, "cvc: is required"],
      [{ cvc: "12" }, "cvc: must be 3 or 4 digits"],
      [{ cvc: "12345" }, "cvc: must be 3 or 4 digits"],
      [{ holderName: "x".repeat(201) }, "holder_name: must have at most 200 characters"],
    ]),
  )("rejects $label naming the field, without echoing the card", ({ overrides, message }) => {
    let thrown: Error | undefined;
    try {
      validateCard(card(overrides), now);
    } catch (error) {
      thrown = error as Error;
    }
    expect(thrown?.message).toBe(message);
    expect(thrown?.message).not.toMatch(/\d{6,}/);
  });
});

/** The simulator's memory in a Map: the unit tests are about its rules, not about Postgres. */
function memoryInMaps(): SimulatorMemory & { attempts: Map<string, number> } {
  const attempts = new Map<string, number>();
  const results = new Map<string, unknown>();
  return {
    attempts,
    async countAttempt(key) {
      attempts.set(key, (attempts.get(key) ?? 0) + 1);
      return { attempts: attempts.get(key) ?? 0, result: results.get(key) };
    },
    async remember(key, result) {
      if (!results.has(key)) results.set(key, result);
      return results.get(key) as typeof result;
    },
  };
}

describe("card processor simulator", () => {
  const amount = { currency: "EUR", nanos: 10_000_000_000n };
  const signal = new AbortController().signal;

  async function tokenFor(simulator: ProcessorSimulator, number: string): Promise<string> {
    return simulator.registerCard(validateCard(card({ number }), now));
  }

  it("issues tokens that carry the test card's behaviour and never the number", async () => {
    const simulator = new ProcessorSimulator(memoryInMaps(), { hangMs: 1000 });
    const token = await tokenFor(simulator, "4000 0000 0000 9995");
    expect(token).toMatch(/^sim_insufficient_funds_[0-9a-f]{16}$/);
    expect(token).not.toContain("9995");
    expect(behaviourOfToken(token)).toBe("insufficient_funds");
    expect(behaviourOfToken("tok_visa")).toBeUndefined();
    expect(behaviourOf("5555555555554444")).toBe("approve");
  });

  it.each([
    ["4242424242424242", { approved: true }],
    ["5555555555554444", { approved: true }],
    ["4000000000000002", { approved: false, decline: "GENERIC" }],
    ["4000000000009995", { approved: false, decline: "INSUFFICIENT_FUNDS" }],
  ])("answers an authorization with %s as %j", async (number, expected) => {
    const simulator = new ProcessorSimulator(memoryInMaps(), { hangMs: 1000 });
    const outcome = await simulator.authorize({
      idempotencyKey: "authorize:o1",
      processorToken: await tokenFor(simulator, number),
      amount,
      signal,
    });
    expect(outcome).toMatchObject(expected);
    expect(outcome.reference).toMatch(/^sim_/);
  });

  it("answers the same idempotency key with the same result", async () => {
    const simulator = new ProcessorSimulator(memoryInMaps(), { hangMs: 1000 });
    const processorToken = await tokenFor(simulator, "4242424242424242");
    const first = await simulator.authorize({ idempotencyKey: "authorize:o1", processorToken, amount, signal });
    const again = await simulator.authorize({ idempotencyKey: "authorize:o1", processorToken, amount, signal });
    const other = await simulator.authorize({ idempotencyKey: "authorize:o2", processorToken, amount, signal });
    expect(again).toEqual(first);
    expect(other.reference).not.toBe(first.reference);
    const capture = await simulator.capture({
      idempotencyKey: "capture:p1",
      authorizationReference: first.reference,
      amount,
      signal,
    });
    expect(
      await simulator.capture({
        idempotencyKey: "capture:p1",
        authorizationReference: first.reference,
        amount,
        signal,
      }),
    ).toEqual(capture);
  });

  it("fails the transient card twice per order, then approves", async () => {
    const memory = memoryInMaps();
    const simulator = new ProcessorSimulator(memory, { hangMs: 1000 });
    const processorToken = await tokenFor(simulator, "4000000000000341");
    const attempt = (orderId: string) =>
      simulator.authorize({ idempotencyKey: `authorize:${orderId}`, processorToken, amount, signal });
    await expect(attempt("o1")).rejects.toThrow(ProcessorUnavailableError);
    await expect(attempt("o1")).rejects.toThrow(/attempt 2; the first 2 fail/);
    await expect(attempt("o2")).rejects.toThrow(ProcessorUnavailableError);
    await expect(attempt("o1")).resolves.toMatchObject({ approved: true });
    await expect(attempt("o1")).resolves.toMatchObject({ approved: true });
  });

  it("hangs on the timeout card until the caller gives up", async () => {
    const simulator = new ProcessorSimulator(memoryInMaps(), { hangMs: 10_000 });
    const processorToken = await tokenFor(simulator, "4000000000000259");
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    await expect(
      simulator.authorize({ idempotencyKey: "authorize:o1", processorToken, amount, signal: controller.signal }),
    ).rejects.toThrow(/abort/i);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("refuses a token it did not issue", async () => {
    const simulator = new ProcessorSimulator(memoryInMaps(), { hangMs: 10 });
    await expect(
      simulator.authorize({ idempotencyKey: "k", processorToken: "tok_123", amount, signal }),
    ).rejects.toThrow("did not issue");
  });
});

describe("payment rules", () => {
  const request = {
    orderId: "0b6e1c1e-5d1b-4c55-9d3f-2c1e0f0a9b11",
    customerId: "customer-1",
    amount: { currencyCode: "EUR", units: 12, nanos: 500_000_000 },
    paymentMethodId: `pm_${"a".repeat(24)}`,
  };

  it("validates an authorization", () => {
    expect(validateAuthorization(request)).toMatchObject({ amount: { currency: "EUR", nanos: 12_500_000_000n } });
    expect(() => validateAuthorization({ ...request, orderId: "x" })).toThrow("order_id: must be a UUID");
    expect(() => validateAuthorization({ ...request, customerId: "" })).toThrow("customer_id: is required");
    expect(() => validateAuthorization({ ...request, amount: { currencyCode: "EUR", units: 0, nanos: 0 } })).toThrow(
      "amount: must be positive",
    );
    expect(() =>
      validateAuthorization({ ...request, amount: { currencyCode: "EUR", units: 2_000_000, nanos: 0 } }),
    ).toThrow("amount: must be at most 1000000 units");
    expect(() => validateAuthorization({ ...request, paymentMethodId: "card_1" })).toThrow(
      "payment_method_id: must be a token from TokenizeCard",
    );
  });

  it("validates a refund", () => {
    const refund = { paymentId: request.orderId, refundId: "refund-0001", amount: request.amount, reason: "" };
    expect(validateRefund(refund).refundId).toBe("refund-0001");
    expect(() => validateRefund({ ...refund, refundId: "short" })).toThrow(
      "refund_id: must have at least 8 characters",
    );
    expect(() => validateRefund({ ...refund, refundId: "has a space" })).toThrow("refund_id: must be printable ASCII");
    expect(() => validateRefund({ ...refund, amount: undefined })).toThrow("amount: is required");
  });

  it("spots a repeated authorization that asks for something else", () => {
    const existing = { customerId: "customer-1", currency: "EUR", amountNanos: 12_500_000_000n } as PaymentRow;
    const validated = validateAuthorization(request);
    expect(authorizationMismatch(existing, validated)).toBeUndefined();
    expect(authorizationMismatch(existing, { ...validated, customerId: "customer-2" })).toBe("another customer");
    expect(authorizationMismatch(existing, { ...validated, amount: { currency: "EUR", nanos: 1n } })).toBe(
      "another amount (the first was 12.50 EUR)",
    );
  });

  it("refunds partially, then fully", () => {
    expect(refundableOf({ currency: "EUR", capturedNanos: 100n, refundedNanos: 30n })).toEqual({
      currency: "EUR",
      nanos: 70n,
    });
    expect(statusAfterRefund(100n, 30n)).toBe("PARTIALLY_REFUNDED");
    expect(statusAfterRefund(100n, 100n)).toBe("REFUNDED");
  });
});
