import { randomUUID } from "node:crypto";
import { PassThrough } from "node:stream";
import {
  PaymentAuthorizedEvent,
  PaymentCapturedEvent,
  PaymentDeclinedEvent,
  PaymentRefundedEvent,
  PaymentVoidedEvent,
  ShipmentDispatchedEvent,
} from "@agora/contracts";
import { DeclineReason, LedgerEntryType, type Payment, PaymentStatus } from "@agora/contracts/agora/payment/v1/payment";
import { PaymentServiceService } from "@agora/contracts/agora/payment/v1/payment_service";
import { createClient, type Database, type PromiseClient, type RunningService } from "@agora/service-kit";
import {
  EventProbe,
  expectGrpcStatus,
  grpcFailure,
  startTestNats,
  TestEventProducer,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import * as grpc from "@grpc/grpc-js";
import { type SQL, sql } from "drizzle-orm";
import pino from "pino";
import { paymentService } from "../../src/main";
import { consumedDispatches, dispatchedShipment } from "./shipment-dispatches";

type PaymentClient = PromiseClient<typeof PaymentServiceService>;

const eur = (units: number, nanos = 0) => ({ currencyCode: "EUR", units, nanos });
/** An expiry year that stays valid: the service checks cards against the real clock. */
const expYear = new Date().getUTCFullYear() + 5;

/** Rows of (request overrides, expected message) with a short title label for each. */
function cases<T>(rows: ReadonlyArray<readonly [T, string]>): { label: string; overrides: T; message: string }[] {
  return rows.map(([overrides, message]) => ({ label: shortJson(overrides), overrides, message }));
}

/** A test title's view of a request: JSON, cut short. */
function shortJson(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 60 ? `${json.slice(0, 57)}...` : json;
}

/** Where the payment service under test keeps its data. */
export interface SuiteDatabase {
  /** The variables that point payment at it: DATABASE_URL, or PGLITE_DIR for the embedded PGlite. */
  readonly env: Record<string, string>;
  /** Removes it after the suite. */
  drop(): Promise<void>;
}

/**
 * The payment service's integration suite — every RPC, the events it publishes and the
 * shipment_dispatched consumer — against a real NATS and the database `openDatabase` gives: run by
 * payment-service.test.ts on Postgres and by payment-service-pglite.test.ts on the embedded PGlite
 * (one connection, as `./agora up` runs it).
 */
export function describePaymentService(title: string, openDatabase: () => Promise<SuiteDatabase>): void {
  describe(title, () => {
    let database: SuiteDatabase;
    let nats: TestNats;
    let env: Record<string, string>;
    let running: RunningService<unknown, Record<string, unknown>>;
    let payment: PaymentClient;
    let events: EventProbe;
    let shipping: TestEventProducer;
    const logLines: string[] = [];
    const clientLogger = pino({ level: "silent" });

    async function start(): Promise<void> {
      const logs = new PassThrough();
      logs.on("data", (chunk: Buffer) => logLines.push(...chunk.toString().split("\n").filter(Boolean)));
      running = await paymentService.start({
        env: {
          GRPC_HOST: "127.0.0.1",
          GRPC_PORT: "0",
          METRICS_PORT: "0",
          LOG_LEVEL: "debug",
          LOG_FORMAT: "json",
          ...env,
        },
        logDestination: logs,
      });
      payment = createClient(PaymentServiceService, running.address, {
        downstream: "payment",
        logger: clientLogger,
        policies: { maxAttempts: 1, breaker: false, timeoutMs: 10_000 },
      });
    }

    async function stop(): Promise<void> {
      payment.close();
      await running.stop();
    }

    beforeAll(async () => {
      database = await openDatabase();
      nats = await startTestNats();
      env = {
        ...database.env,
        NATS_URL: nats.url,
        NATS_SUBJECT_PREFIX: nats.subjectPrefix,
        OUTBOX_POLL_INTERVAL_MS: "100",
        PROCESSOR_TIMEOUT_MS: "400",
        SIMULATOR_HANG_MS: "10000",
      };
      await start();
      events = await EventProbe.connect(nats.url, nats.subjectPrefix);
      shipping = await TestEventProducer.start({ nats, producer: "shipping", publishes: [ShipmentDispatchedEvent] });
    });

    afterAll(async () => {
      await shipping.close();
      await events.close();
      await stop();
      await database.drop();
      await nats.close();
    });

    const query = <T extends Record<string, unknown>>(statement: SQL) =>
      (running.database as Database<Record<string, unknown>>).rows<T>(statement);

    async function tokenize(number = "4242 4242 4242 4242"): Promise<string> {
      const { paymentMethod } = await payment.tokenizeCard({
        number,
        expMonth: 12,
        expYear: new Date().getUTCFullYear() + 3,
        cvc: "737",
        holderName: "Ada Lovelace",
      });
      return paymentMethod?.paymentMethodId ?? "";
    }

    async function authorize(options: { number?: string; amount?: ReturnType<typeof eur>; customerId?: string } = {}) {
      const orderId = randomUUID();
      const { payment: authorized } = await payment.authorizePayment({
        orderId,
        customerId: options.customerId ?? "customer-1",
        amount: options.amount ?? eur(100),
        paymentMethodId: await tokenize(options.number),
      });
      return authorized as Payment;
    }

    describe("TokenizeCard", () => {
      it("stores brand, last four and expiry behind a token, never the number or the CVC, and logs neither", async () => {
        const { paymentMethod } = await payment.tokenizeCard({
          number: "5555-5555-5555-4444",
          expMonth: 7,
          expYear,
          cvc: "4821",
          holderName: "Grace Hopper",
        });
        expect(paymentMethod).toEqual({
          paymentMethodId: expect.stringMatching(/^pm_[0-9a-f]{24}$/),
          brand: "mastercard",
          last4: "4444",
          expMonth: 7,
          expYear,
        });
        await grpcFailure(
          payment.tokenizeCard({ number: "5555555555554445", expMonth: 7, expYear, cvc: "4821", holderName: "" }),
        );
        const stored = JSON.stringify(await query(sql`select * from payment_methods`));
        expect(stored).not.toMatch(/5555555555554444|555555555555/);
        expect(stored).not.toContain("4821");
        const everything = JSON.stringify(await query(sql`select * from simulator_operations`));
        expect(everything).not.toContain("5555555555554444");
        expect(logLines.length).toBeGreaterThan(0);
        expect(logLines.join("\n")).not.toMatch(/5555.?5555.?5555.?444[45]|4821/);
      });

      it.each(
        cases([
          [{ number: "" }, "number: is required"],
          [{ number: "4242 4242 4242 4241" }, "number: is not a valid card number (Luhn check failed)"],
          [{ number: "4242" }, "number: must have 12 to 19 digits"],
          [{ expMonth: 13 }, "exp_month: must be between 1 and 12"],
          [{ expYear: 2020 }, "exp_year: the card has expired"],
          [{ cvc: "12" }, "cvc: must be 3 or 4 digits"],
          [
            { holderName: "a name of 300 characters".padEnd(300, ".") },
            "holder_name: must have at most 200 characters",
          ],
        ]),
      )("rejects $label as INVALID_ARGUMENT naming the field", async ({ overrides, message }) => {
        await expectGrpcStatus(
          payment.tokenizeCard({
            number: "4242424242424242",
            expMonth: 12,
            expYear,
            cvc: "123",
            holderName: "",
            ...overrides,
          }),
          grpc.status.INVALID_ARGUMENT,
          message,
        );
      });
    });

    describe("AuthorizePayment", () => {
      it("holds the amount with an approving card, records it in the ledger and publishes payment.authorized", async () => {
        const authorized = await authorize({ amount: eur(59, 900_000_000) });
        expect(authorized).toMatchObject({
          status: PaymentStatus.PAYMENT_STATUS_AUTHORIZED,
          customerId: "customer-1",
          amount: eur(59, 900_000_000),
          capturedAmount: eur(0),
          refundedAmount: eur(0),
          declineReason: DeclineReason.DECLINE_REASON_UNSPECIFIED,
          paymentMethod: { brand: "visa", last4: "4242" },
        });
        expect(authorized.ledger).toEqual([
          expect.objectContaining({
            type: LedgerEntryType.LEDGER_ENTRY_TYPE_AUTHORIZATION,
            amount: eur(59, 900_000_000),
            processorReference: expect.stringMatching(/^sim_auth_/),
          }),
        ]);
        const published = await events.waitFor(PaymentAuthorizedEvent, (all) =>
          all.some((event) => event.payload.payment?.paymentId === authorized.paymentId),
        );
        const mine = published.find((event) => event.payload.payment?.paymentId === authorized.paymentId);
        expect(mine?.event).toMatchObject({
          aggregateType: "payment",
          aggregateId: authorized.paymentId,
          producer: "payment",
        });
        expect(mine?.payload.payment).toEqual(authorized);
      });

      it.each([
        ["4000 0000 0000 0002", DeclineReason.DECLINE_REASON_GENERIC],
        ["4000 0000 0000 9995", DeclineReason.DECLINE_REASON_INSUFFICIENT_FUNDS],
      ])(
        "answers a decline (%s) as a DECLINED payment, not an error, and publishes payment.declined",
        async (number, reason) => {
          const declined = await authorize({ number });
          expect(declined).toMatchObject({
            status: PaymentStatus.PAYMENT_STATUS_DECLINED,
            declineReason: reason,
            ledger: [],
          });
          const published = await events.waitFor(PaymentDeclinedEvent, (all) =>
            all.some((event) => event.payload.payment?.paymentId === declined.paymentId),
          );
          expect(
            published.find((event) => event.payload.payment?.paymentId === declined.paymentId)?.payload.payment
              ?.declineReason,
          ).toBe(reason);
        },
      );

      it("declines a stored card that has expired since it was tokenized (EXPIRED_CARD) without asking the processor", async () => {
        const paymentMethodId = `pm_${"e".repeat(24)}`;
        await query(sql`insert into payment_methods (payment_method_id, brand, last4, exp_month, exp_year, processor_token)
        values (${paymentMethodId}, 'visa', '4242', 1, 2024, 'sim_approve_0000000000000000')`);
        const { payment: declined } = await payment.authorizePayment({
          orderId: randomUUID(),
          customerId: "customer-1",
          amount: eur(5),
          paymentMethodId,
        });
        expect(declined).toMatchObject({
          status: PaymentStatus.PAYMENT_STATUS_DECLINED,
          declineReason: DeclineReason.DECLINE_REASON_EXPIRED_CARD,
        });
      });

      it("is idempotent by order id: a second call returns the first payment, one hold, one event", async () => {
        const paymentMethodId = await tokenize();
        const orderId = randomUUID();
        const request = { orderId, customerId: "customer-1", amount: eur(20), paymentMethodId };
        const first = await payment.authorizePayment(request);
        const second = await payment.authorizePayment({
          ...request,
          paymentMethodId: await tokenize("4000000000000002"),
        });
        expect(second.payment).toEqual(first.payment);
        const [count] = await query<{ n: number }>(
          sql`select count(*)::int as n from ledger_entries where payment_id = ${first.payment?.paymentId ?? ""}`,
        );
        expect(count?.n).toBe(1);
        await waitUntil(
          async () => (await events.ofType(PaymentAuthorizedEvent)).some((e) => e.payload.payment?.orderId === orderId),
          5000,
          "authorized event",
        );
        expect(
          (await events.ofType(PaymentAuthorizedEvent)).filter((e) => e.payload.payment?.orderId === orderId),
        ).toHaveLength(1);
      });

      it("makes one payment when the same order is authorized many times at once", async () => {
        const paymentMethodId = await tokenize();
        const orderId = randomUUID();
        const responses = await Promise.all(
          Array.from({ length: 8 }, () =>
            payment.authorizePayment({ orderId, customerId: "customer-1", amount: eur(42), paymentMethodId }),
          ),
        );
        expect(new Set(responses.map((response) => response.payment?.paymentId)).size).toBe(1);
        const [rows] = await query<{ payments: number; entries: number }>(sql`
        select (select count(*)::int from payments where order_id = ${orderId}) as payments,
               (select count(*)::int from ledger_entries l join payments p using (payment_id) where p.order_id = ${orderId}) as entries`);
        expect(rows).toEqual({ payments: 1, entries: 1 });
      });

      it("refuses a repeated order id with another amount or customer (FAILED_PRECONDITION)", async () => {
        const first = await authorize({ amount: eur(10) });
        await expectGrpcStatus(
          payment.authorizePayment({
            orderId: first.orderId,
            customerId: "customer-1",
            amount: eur(11),
            paymentMethodId: await tokenize(),
          }),
          grpc.status.FAILED_PRECONDITION,
          `order ${first.orderId} has a payment already (${first.paymentId}) for another amount (the first was 10.00 EUR)`,
        );
        await expectGrpcStatus(
          payment.authorizePayment({
            orderId: first.orderId,
            customerId: "customer-2",
            amount: eur(10),
            paymentMethodId: await tokenize(),
          }),
          grpc.status.FAILED_PRECONDITION,
          "for another customer",
        );
      });

      it("answers UNAVAILABLE when the processor does not answer in time (timeout card) and records nothing", async () => {
        const paymentMethodId = await tokenize("4000 0000 0000 0259");
        const orderId = randomUUID();
        const started = Date.now();
        await expectGrpcStatus(
          payment.authorizePayment({ orderId, customerId: "customer-1", amount: eur(10), paymentMethodId }),
          grpc.status.UNAVAILABLE,
          "the card processor did not answer within 400 ms; nothing was authorized; retry later",
        );
        const took = Date.now() - started;
        expect(took).toBeGreaterThanOrEqual(390);
        expect(took).toBeLessThan(5000);
        await expectGrpcStatus(payment.getPayment({ paymentId: "", orderId }), grpc.status.NOT_FOUND, "not found");
        const [count] = await query<{ n: number }>(
          sql`select count(*)::int as n from payments where order_id = ${orderId}`,
        );
        expect(count?.n).toBe(0);
      });

      it("fails transiently twice per order with the 0341 card — counted in the database, across a restart — then approves", async () => {
        const paymentMethodId = await tokenize("4000 0000 0000 0341");
        const orderId = randomUUID();
        const request = { orderId, customerId: "customer-1", amount: eur(15), paymentMethodId };
        await expectGrpcStatus(
          payment.authorizePayment(request),
          grpc.status.UNAVAILABLE,
          /^the card processor is unavailable \(simulated transient failure \(attempt 1;.*nothing was authorized/,
        );
        await stop();
        await start();
        await expectGrpcStatus(payment.authorizePayment(request), grpc.status.UNAVAILABLE, "attempt 2");
        const { payment: approved } = await payment.authorizePayment(request);
        expect(approved?.status).toBe(PaymentStatus.PAYMENT_STATUS_AUTHORIZED);
        // A different order with the same card fails twice again.
        await expectGrpcStatus(
          payment.authorizePayment({ ...request, orderId: randomUUID() }),
          grpc.status.UNAVAILABLE,
          "attempt 1",
        );
      });

      it("answers NOT_FOUND for an unknown card token", async () => {
        await expectGrpcStatus(
          payment.authorizePayment({
            orderId: randomUUID(),
            customerId: "customer-1",
            amount: eur(1),
            paymentMethodId: `pm_${"0".repeat(24)}`,
          }),
          grpc.status.NOT_FOUND,
          `payment method pm_${"0".repeat(24)} not found`,
        );
      });

      it.each(
        cases([
          [{ orderId: "" }, "order_id: is required"],
          [{ orderId: "order-1" }, "order_id: must be a UUID"],
          [{ customerId: "" }, "customer_id: is required"],
          [{ amount: undefined }, "amount: is required"],
          [{ amount: eur(0) }, "amount: must be positive"],
          [{ amount: { currencyCode: "euro", units: 1, nanos: 0 } }, "amount.currency_code"],
          [{ paymentMethodId: "" }, "payment_method_id: is required"],
          [{ paymentMethodId: "4242424242424242" }, "payment_method_id: must be a token from TokenizeCard"],
        ]),
      )("rejects $label as INVALID_ARGUMENT naming the field", async ({ overrides, message }) => {
        await expectGrpcStatus(
          payment.authorizePayment({
            orderId: randomUUID(),
            customerId: "customer-1",
            amount: eur(1),
            paymentMethodId: `pm_${"a".repeat(24)}`,
            ...overrides,
          }),
          grpc.status.INVALID_ARGUMENT,
          message,
        );
      });
    });

    describe("CapturePayment and VoidPayment", () => {
      it("captures an authorization once, however often asked, and publishes payment.captured", async () => {
        const authorized = await authorize({ amount: eur(80) });
        const { payment: captured } = await payment.capturePayment({ paymentId: authorized.paymentId });
        expect(captured).toMatchObject({ status: PaymentStatus.PAYMENT_STATUS_CAPTURED, capturedAmount: eur(80) });
        expect(captured?.ledger.map((entry) => entry.type)).toEqual([
          LedgerEntryType.LEDGER_ENTRY_TYPE_AUTHORIZATION,
          LedgerEntryType.LEDGER_ENTRY_TYPE_CAPTURE,
        ]);
        const again = await payment.capturePayment({ paymentId: authorized.paymentId });
        expect(again.payment).toEqual(captured);
        const published = await events.waitFor(PaymentCapturedEvent, (all) =>
          all.some((event) => event.payload.payment?.paymentId === authorized.paymentId),
        );
        expect(published.filter((event) => event.payload.payment?.paymentId === authorized.paymentId)).toHaveLength(1);
      });

      it("captures once when many captures of one payment arrive at once", async () => {
        const authorized = await authorize({ amount: eur(33) });
        const responses = await Promise.all(
          Array.from({ length: 6 }, () => payment.capturePayment({ paymentId: authorized.paymentId })),
        );
        for (const response of responses) expect(response.payment).toEqual(responses[0]?.payment);
        expect(responses[0]?.payment?.status).toBe(PaymentStatus.PAYMENT_STATUS_CAPTURED);
        const [count] = await query<{ n: number }>(
          sql`select count(*)::int as n from ledger_entries where payment_id = ${authorized.paymentId} and type = 'CAPTURE'`,
        );
        expect(count?.n).toBe(1);
      });

      it("voids an authorization once and publishes payment.voided; a voided payment cannot be captured", async () => {
        const authorized = await authorize();
        const { payment: voided } = await payment.voidPayment({
          paymentId: authorized.paymentId,
          reason: "order cancelled",
        });
        expect(voided?.status).toBe(PaymentStatus.PAYMENT_STATUS_VOIDED);
        expect(voided?.ledger.at(-1)).toMatchObject({ type: LedgerEntryType.LEDGER_ENTRY_TYPE_VOID, amount: eur(100) });
        expect((await payment.voidPayment({ paymentId: authorized.paymentId, reason: "again" })).payment).toEqual(
          voided,
        );
        await expectGrpcStatus(
          payment.capturePayment({ paymentId: authorized.paymentId }),
          grpc.status.FAILED_PRECONDITION,
          `payment ${authorized.paymentId} is VOIDED; only an AUTHORIZED payment can be captured`,
        );
        await events.waitFor(PaymentVoidedEvent, (all) =>
          all.some((e) => e.payload.payment?.paymentId === authorized.paymentId),
        );
      });

      it("refuses to void a captured or a declined payment (FAILED_PRECONDITION)", async () => {
        const captured = await authorize();
        await payment.capturePayment({ paymentId: captured.paymentId });
        await expectGrpcStatus(
          payment.voidPayment({ paymentId: captured.paymentId, reason: "" }),
          grpc.status.FAILED_PRECONDITION,
          "is CAPTURED; it cannot be voided (refund it instead)",
        );
        const declined = await authorize({ number: "4000000000000002" });
        await expectGrpcStatus(
          payment.voidPayment({ paymentId: declined.paymentId, reason: "" }),
          grpc.status.FAILED_PRECONDITION,
          "is DECLINED; it cannot be voided (nothing is held)",
        );
        await expectGrpcStatus(
          payment.capturePayment({ paymentId: declined.paymentId }),
          grpc.status.FAILED_PRECONDITION,
          "is DECLINED",
        );
      });

      it("answers NOT_FOUND for an unknown payment and INVALID_ARGUMENT for a bad id", async () => {
        const unknown = randomUUID();
        await expectGrpcStatus(
          payment.capturePayment({ paymentId: unknown }),
          grpc.status.NOT_FOUND,
          `payment ${unknown} not found`,
        );
        await expectGrpcStatus(
          payment.voidPayment({ paymentId: unknown, reason: "" }),
          grpc.status.NOT_FOUND,
          "not found",
        );
        await expectGrpcStatus(
          payment.capturePayment({ paymentId: "" }),
          grpc.status.INVALID_ARGUMENT,
          "payment_id: is required",
        );
        await expectGrpcStatus(
          payment.voidPayment({ paymentId: "p1", reason: "" }),
          grpc.status.INVALID_ARGUMENT,
          "payment_id: must be a UUID",
        );
        await expectGrpcStatus(
          payment.voidPayment({ paymentId: unknown, reason: "x".repeat(501) }),
          grpc.status.INVALID_ARGUMENT,
          "reason: must have at most 500 characters",
        );
      });
    });

    describe("RefundPayment", () => {
      it("refunds partially, then the rest; the same refund_id refunds once", async () => {
        const authorized = await authorize({ amount: eur(100) });
        await payment.capturePayment({ paymentId: authorized.paymentId });
        const refund = {
          paymentId: authorized.paymentId,
          refundId: `refund-${randomUUID()}`,
          amount: eur(30),
          reason: "damaged",
        };
        const { payment: partial } = await payment.refundPayment(refund);
        expect(partial).toMatchObject({
          status: PaymentStatus.PAYMENT_STATUS_PARTIALLY_REFUNDED,
          refundedAmount: eur(30),
        });
        const again = await payment.refundPayment(refund);
        expect(again.payment).toEqual(partial);
        const { payment: full } = await payment.refundPayment({
          ...refund,
          refundId: `refund-${randomUUID()}`,
          amount: eur(70),
        });
        expect(full).toMatchObject({ status: PaymentStatus.PAYMENT_STATUS_REFUNDED, refundedAmount: eur(100) });
        expect(full?.ledger.map((entry) => [LedgerEntryType[entry.type], entry.amount?.units])).toEqual([
          ["LEDGER_ENTRY_TYPE_AUTHORIZATION", 100],
          ["LEDGER_ENTRY_TYPE_CAPTURE", 100],
          ["LEDGER_ENTRY_TYPE_REFUND", 30],
          ["LEDGER_ENTRY_TYPE_REFUND", 70],
        ]);
        const published = await events.waitFor(
          PaymentRefundedEvent,
          (all) => all.filter((event) => event.payload.payment?.paymentId === authorized.paymentId).length === 2,
        );
        expect(
          published.filter((e) => e.payload.payment?.paymentId === authorized.paymentId).at(-1)?.payload.payment
            ?.status,
        ).toBe(PaymentStatus.PAYMENT_STATUS_REFUNDED);
      });

      it("refunds once when the same refund_id arrives many times at once", async () => {
        const authorized = await authorize({ amount: eur(50) });
        await payment.capturePayment({ paymentId: authorized.paymentId });
        const refund = {
          paymentId: authorized.paymentId,
          refundId: `refund-${randomUUID()}`,
          amount: eur(20),
          reason: "",
        };
        const responses = await Promise.all(Array.from({ length: 6 }, () => payment.refundPayment(refund)));
        for (const response of responses) expect(response.payment?.refundedAmount).toEqual(eur(20));
        const [count] = await query<{ n: number }>(
          sql`select count(*)::int as n from ledger_entries where payment_id = ${authorized.paymentId} and type = 'REFUND'`,
        );
        expect(count?.n).toBe(1);
      });

      it("refuses what breaks the rules: more than is left, not captured, another payment's or amount's refund_id", async () => {
        const authorized = await authorize({ amount: eur(40) });
        await expectGrpcStatus(
          payment.refundPayment({
            paymentId: authorized.paymentId,
            refundId: "refund-early-1",
            amount: eur(1),
            reason: "",
          }),
          grpc.status.FAILED_PRECONDITION,
          "is AUTHORIZED; only a captured payment can be refunded",
        );
        await payment.capturePayment({ paymentId: authorized.paymentId });
        await expectGrpcStatus(
          payment.refundPayment({
            paymentId: authorized.paymentId,
            refundId: "refund-big-1",
            amount: eur(40, 10_000_000),
            reason: "",
          }),
          grpc.status.FAILED_PRECONDITION,
          "amount: 40.01 EUR is more than the 40.00 EUR that can still be refunded",
        );
        const refundId = `refund-${randomUUID()}`;
        await payment.refundPayment({ paymentId: authorized.paymentId, refundId, amount: eur(5), reason: "" });
        await expectGrpcStatus(
          payment.refundPayment({ paymentId: authorized.paymentId, refundId, amount: eur(6), reason: "" }),
          grpc.status.FAILED_PRECONDITION,
          `refund ${refundId} was made already with another amount (5.00 EUR)`,
        );
        const other = await authorize();
        await payment.capturePayment({ paymentId: other.paymentId });
        await expectGrpcStatus(
          payment.refundPayment({ paymentId: other.paymentId, refundId, amount: eur(5), reason: "" }),
          grpc.status.FAILED_PRECONDITION,
          `refund_id ${refundId} was used for another payment`,
        );
        await expectGrpcStatus(
          payment.refundPayment({
            paymentId: other.paymentId,
            refundId: "refund-usd-1",
            amount: { currencyCode: "USD", units: 1, nanos: 0 },
            reason: "",
          }),
          grpc.status.INVALID_ARGUMENT,
          "amount.currency_code: must be EUR, the currency of the payment",
        );
        await expectGrpcStatus(
          payment.refundPayment({ paymentId: randomUUID(), refundId: "refund-none-1", amount: eur(1), reason: "" }),
          grpc.status.NOT_FOUND,
          "not found",
        );
      });

      it.each(
        cases([
          [{ paymentId: "" }, "payment_id: is required"],
          [{ refundId: "short" }, "refund_id: must have at least 8 characters"],
          [{ amount: eur(0) }, "amount: must be positive"],
          [{ reason: "a reason of 501 characters".padEnd(501, ".") }, "reason: must have at most 500 characters"],
        ]),
      )("rejects $label as INVALID_ARGUMENT naming the field", async ({ overrides, message }) => {
        await expectGrpcStatus(
          payment.refundPayment({
            paymentId: randomUUID(),
            refundId: "refund-0001",
            amount: eur(1),
            reason: "",
            ...overrides,
          }),
          grpc.status.INVALID_ARGUMENT,
          message,
        );
      });
    });

    describe("GetPayment and the ledger", () => {
      it("finds a payment by its id or its order's id, with its ledger", async () => {
        const authorized = await authorize();
        expect((await payment.getPayment({ paymentId: authorized.paymentId, orderId: "" })).payment).toEqual(
          authorized,
        );
        expect((await payment.getPayment({ paymentId: "", orderId: authorized.orderId })).payment).toEqual(authorized);
      });

      it("hides another customer's payment from a customer (NOT_FOUND) but not from services", async () => {
        const authorized = await authorize({ customerId: "customer-7" });
        const asCustomer = (customerId: string) =>
          payment.getPayment(
            { paymentId: authorized.paymentId, orderId: "" },
            { metadata: { "x-agora-customer-id": customerId } },
          );
        expect((await asCustomer("customer-7")).payment?.paymentId).toBe(authorized.paymentId);
        await expectGrpcStatus(asCustomer("customer-8"), grpc.status.NOT_FOUND, "not found");
      });

      it("wants exactly one of payment_id and order_id (INVALID_ARGUMENT naming the field)", async () => {
        await expectGrpcStatus(
          payment.getPayment({ paymentId: "", orderId: "" }),
          grpc.status.INVALID_ARGUMENT,
          "payment_id: is required (or give order_id instead)",
        );
        await expectGrpcStatus(
          payment.getPayment({ paymentId: randomUUID(), orderId: randomUUID() }),
          grpc.status.INVALID_ARGUMENT,
          "order_id: give either payment_id or order_id, not both",
        );
        await expectGrpcStatus(
          payment.getPayment({ paymentId: "", orderId: "o-1" }),
          grpc.status.INVALID_ARGUMENT,
          "order_id: must be a UUID",
        );
        await expectGrpcStatus(
          payment.getPayment({ paymentId: randomUUID(), orderId: "" }),
          grpc.status.NOT_FOUND,
          "not found",
        );
      });

      it("keeps the ledger append-only: the database refuses to change or delete an entry", async () => {
        await authorize();
        // drizzle wraps the database's error; the trigger's message is in its cause.
        const databaseError = (statement: SQL) =>
          query(statement).then(
            () => "no error",
            (error: Error) => String((error.cause as Error | undefined)?.message ?? error.message),
          );
        expect(await databaseError(sql`update ledger_entries set amount_nanos = 1`)).toMatch(
          "ledger_entries is append-only: UPDATE is not allowed",
        );
        expect(await databaseError(sql`delete from ledger_entries`)).toMatch(
          "ledger_entries is append-only: DELETE is not allowed",
        );
      });
    });

    describe("consuming agora.shipping.shipment_dispatched", () => {
      const consumed = (outcome: string) => consumedDispatches(running.metricsPort, outcome);

      it("captures the order's payment when its shipment is dispatched, once, even when the event comes again", async () => {
        const authorized = await authorize({ amount: eur(64) });
        const recorded = await shipping.publish(ShipmentDispatchedEvent, dispatchedShipment(authorized.orderId), {
          aggregateId: randomUUID(),
        });
        await waitUntil(
          async () =>
            (await payment.getPayment({ paymentId: authorized.paymentId, orderId: "" })).payment?.status ===
            PaymentStatus.PAYMENT_STATUS_CAPTURED,
          10_000,
          "captured",
        );
        const duplicates = await consumed("duplicate");
        await shipping.redeliver(recorded.eventId);
        await waitUntil(async () => (await consumed("duplicate")) === duplicates + 1, 10_000, "redelivery skipped");
        const { payment: after } = await payment.getPayment({ paymentId: authorized.paymentId, orderId: "" });
        expect(after?.ledger.filter((entry) => entry.type === LedgerEntryType.LEDGER_ENTRY_TYPE_CAPTURE)).toHaveLength(
          1,
        );
        expect(after?.capturedAmount).toEqual(eur(64));
        await events.waitFor(PaymentCapturedEvent, (all) =>
          all.some((e) => e.payload.payment?.paymentId === authorized.paymentId),
        );
        // The capture request is gone once carried out.
        expect(await query(sql`select * from capture_requests where payment_id = ${authorized.paymentId}`)).toEqual([]);
        expect(logLines.some((line) => line.includes("shipment dispatched: capture requested"))).toBe(true);
        expect(logLines.some((line) => line.includes("payment captured: shipment dispatched"))).toBe(true);
      });

      it("drops (with a warning, never captures) a capture request whose payment was voided before the worker took it up", async () => {
        const authorized = await authorize();
        await payment.voidPayment({ paymentId: authorized.paymentId, reason: "cancelled" });
        // As left by the consumer when the payment was still AUTHORIZED.
        await query(sql`insert into capture_requests (payment_id, order_id, event_id)
          values (${authorized.paymentId}, ${authorized.orderId}, 'event-before-the-void')`);
        await waitUntil(
          async () =>
            (await query(sql`select 1 from capture_requests where payment_id = ${authorized.paymentId}`)).length === 0,
          10_000,
          "request dropped",
        );
        const { payment: after } = await payment.getPayment({ paymentId: authorized.paymentId, orderId: "" });
        expect(after?.status).toBe(PaymentStatus.PAYMENT_STATUS_VOIDED);
        expect(after?.ledger.some((entry) => entry.type === LedgerEntryType.LEDGER_ENTRY_TYPE_CAPTURE)).toBe(false);
        expect(
          logLines.some(
            (line) =>
              line.includes(authorized.paymentId) &&
              line.includes("capture request dropped: the payment cannot be captured (not capturable)"),
          ),
        ).toBe(true);
      });

      it("skips (logs, does not retry) a dispatched shipment whose payment was voided, or that has none", async () => {
        const voided = await authorize();
        await payment.voidPayment({ paymentId: voided.paymentId, reason: "cancelled" });
        const applied = await consumed("applied");
        await shipping.publish(ShipmentDispatchedEvent, dispatchedShipment(voided.orderId), {
          aggregateId: randomUUID(),
        });
        await shipping.publish(ShipmentDispatchedEvent, dispatchedShipment(randomUUID()), {
          aggregateId: randomUUID(),
        });
        await waitUntil(async () => (await consumed("applied")) === applied + 2, 10_000, "both events applied");
        expect(await consumed("retried")).toBe(0);
        expect((await payment.getPayment({ paymentId: voided.paymentId, orderId: "" })).payment?.status).toBe(
          PaymentStatus.PAYMENT_STATUS_VOIDED,
        );
        expect(logLines.some((line) => line.includes("cannot be captured (not capturable)"))).toBe(true);
        expect(logLines.some((line) => line.includes("cannot be captured (no payment)"))).toBe(true);
      });
    });
  });
}
