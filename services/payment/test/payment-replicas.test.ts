import { randomUUID } from "node:crypto";
import { ShipmentDispatchedEvent } from "@agora/contracts";
import { LedgerEntryType, type Payment, PaymentStatus } from "@agora/contracts/agora/payment/v1/payment";
import { PaymentServiceService } from "@agora/contracts/agora/payment/v1/payment_service";
import type { PromiseClient } from "@agora/service-kit";
import {
  createTestDatabase,
  grpcOutcome,
  type StartedService,
  startService,
  startTestNats,
  type TestDatabase,
  TestEventProducer,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import { paymentService } from "../src/main";
import { dispatchedShipment } from "./support/shipment-dispatches";

type PaymentClient = PromiseClient<typeof PaymentServiceService>;

const eur = (units: number) => ({ currencyCode: "EUR", units, nanos: 0 });

// Two replicas on one Postgres database: operations on one payment race across processes, where only
// the database's re-check after the processor call (lock, look again) keeps the payment consistent.
describe("two payment replicas on one Postgres database", () => {
  let database: TestDatabase;
  let nats: TestNats;
  let shipping: TestEventProducer;
  const replicas: Array<StartedService<unknown, Record<string, unknown>>> = [];
  let a: PaymentClient;
  let b: PaymentClient;

  beforeAll(async () => {
    database = await createTestDatabase("payment_replicas");
    nats = await startTestNats();
    const env = {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      NATS_SUBJECT_PREFIX: nats.subjectPrefix,
      OUTBOX_POLL_INTERVAL_MS: "100",
      CAPTURE_WORKER_INTERVAL_MS: "50",
    };
    for (let index = 0; index < 2; index++) {
      replicas.push((await startService(paymentService, env)) as StartedService<unknown, Record<string, unknown>>);
    }
    a = replicas[0]?.client(PaymentServiceService) as PaymentClient;
    b = replicas[1]?.client(PaymentServiceService) as PaymentClient;
    shipping = await TestEventProducer.start({ nats, producer: "shipping", publishes: [ShipmentDispatchedEvent] });
  });

  afterAll(async () => {
    await shipping.close();
    for (const replica of replicas) await replica.stop();
    await database.drop();
    await nats.close();
  });

  async function authorize(amount = eur(50)): Promise<Payment> {
    const { paymentMethod } = await a.tokenizeCard({
      number: "4242424242424242",
      expMonth: 12,
      expYear: new Date().getUTCFullYear() + 2,
      cvc: "123",
      holderName: "",
    });
    const { payment } = await a.authorizePayment({
      orderId: randomUUID(),
      customerId: "customer-1",
      amount,
      paymentMethodId: paymentMethod?.paymentMethodId ?? "",
    });
    return payment as Payment;
  }

  const entries = (payment: Payment | undefined, type: LedgerEntryType) =>
    payment?.ledger.filter((entry) => entry.type === type).length;

  it("records one of a capture and a void racing on two replicas; the other is FAILED_PRECONDITION", async () => {
    for (let round = 0; round < 8; round++) {
      const { paymentId } = await authorize();
      const [captured, voided] = await Promise.all([
        grpcOutcome(a.capturePayment({ paymentId })),
        grpcOutcome(b.voidPayment({ paymentId, reason: "race" })),
      ]);
      const { payment } = await a.getPayment({ paymentId, orderId: "" });
      if (captured === "OK") {
        expect(voided).toMatch(new RegExp(`^FAILED_PRECONDITION: payment ${paymentId} (is|became) CAPTURED`));
        expect(payment?.status).toBe(PaymentStatus.PAYMENT_STATUS_CAPTURED);
      } else {
        expect(voided).toBe("OK");
        expect(captured).toMatch(new RegExp(`^FAILED_PRECONDITION: payment ${paymentId} (is|became) VOIDED`));
        expect(payment?.status).toBe(PaymentStatus.PAYMENT_STATUS_VOIDED);
      }
      expect(
        (entries(payment, LedgerEntryType.LEDGER_ENTRY_TYPE_CAPTURE) ?? 0) +
          (entries(payment, LedgerEntryType.LEDGER_ENTRY_TYPE_VOID) ?? 0),
      ).toBe(1);
    }
  });

  it("applies identical captures and refunds racing on two replicas once, answering both with the payment", async () => {
    const { paymentId } = await authorize(eur(80));
    const captures = await Promise.all([a.capturePayment({ paymentId }), b.capturePayment({ paymentId })]);
    expect(captures[0]?.payment).toEqual(captures[1]?.payment);
    const refund = { paymentId, refundId: `refund-${randomUUID()}`, amount: eur(30), reason: "" };
    const refunds = await Promise.all([a.refundPayment(refund), b.refundPayment(refund)]);
    for (const response of refunds) expect(response.payment?.refundedAmount).toEqual(eur(30));
    const { payment } = await a.getPayment({ paymentId, orderId: "" });
    expect(entries(payment, LedgerEntryType.LEDGER_ENTRY_TYPE_CAPTURE)).toBe(1);
    expect(entries(payment, LedgerEntryType.LEDGER_ENTRY_TYPE_REFUND)).toBe(1);
    expect(payment?.status).toBe(PaymentStatus.PAYMENT_STATUS_PARTIALLY_REFUNDED);
  });

  it("never refunds more than was captured when different refunds race on two replicas", async () => {
    const { paymentId } = await authorize(eur(100));
    await a.capturePayment({ paymentId });
    const outcomes = await Promise.all([
      grpcOutcome(a.refundPayment({ paymentId, refundId: `refund-${randomUUID()}`, amount: eur(60), reason: "" })),
      grpcOutcome(b.refundPayment({ paymentId, refundId: `refund-${randomUUID()}`, amount: eur(70), reason: "" })),
    ]);
    expect(outcomes.filter((outcome) => outcome === "OK")).toHaveLength(1);
    expect(outcomes.find((outcome) => outcome !== "OK")).toMatch(
      /^FAILED_PRECONDITION: amount: 70\.00 EUR is more than the 40\.00 EUR|^FAILED_PRECONDITION: amount: 60\.00 EUR is more than the 30\.00 EUR/,
    );
    const { payment } = await a.getPayment({ paymentId, orderId: "" });
    expect(entries(payment, LedgerEntryType.LEDGER_ENTRY_TYPE_REFUND)).toBe(1);
  });

  it("shares the capture requests between the replicas' workers: every dispatched order is captured once", async () => {
    const payments = await Promise.all(Array.from({ length: 12 }, () => authorize(eur(10))));
    for (const payment of payments) {
      await shipping.publish(ShipmentDispatchedEvent, dispatchedShipment(payment.orderId), {
        aggregateId: randomUUID(),
      });
    }
    await waitUntil(
      async () => {
        const all = await Promise.all(payments.map(({ paymentId }) => b.getPayment({ paymentId, orderId: "" })));
        return all.every((response) => response.payment?.status === PaymentStatus.PAYMENT_STATUS_CAPTURED);
      },
      15_000,
      "all captured",
    );
    for (const { paymentId } of payments) {
      const { payment } = await a.getPayment({ paymentId, orderId: "" });
      expect(entries(payment, LedgerEntryType.LEDGER_ENTRY_TYPE_CAPTURE)).toBe(1);
    }
  });
});
