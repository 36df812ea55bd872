import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PaymentCapturedEvent, ShipmentDispatchedEvent } from "@agora/contracts";
import { LedgerEntryType, PaymentStatus } from "@agora/contracts/agora/payment/v1/payment";
import { PaymentServiceService } from "@agora/contracts/agora/payment/v1/payment_service";
import { createClient, type PromiseClient } from "@agora/service-kit";
import {
  createTestDatabase,
  EventProbe,
  type ServiceProcess,
  spawnServiceProcess,
  startTestNats,
  TestEventProducer,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import pino from "pino";
import { consumedDispatches, dispatchedShipment } from "./support/shipment-dispatches";

type PaymentClient = PromiseClient<typeof PaymentServiceService>;

/** Where the killed and the restarted process keep their data (the same place for both). */
interface Storage {
  readonly env: Record<string, string>;
  drop(): Promise<void>;
}

const storages: Array<[string, () => Promise<Storage>]> = [
  [
    "Postgres",
    async () => {
      const database = await createTestDatabase("payment_crash");
      return { env: { DATABASE_URL: database.url }, drop: () => database.drop() };
    },
  ],
  [
    "the embedded PGlite (PGLITE_DIR, no DATABASE_URL)",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "agora-payment-crash-"));
      return { env: { PGLITE_DIR: dir }, drop: () => rm(dir, { recursive: true, force: true }) };
    },
  ],
];

describe.each(storages)("a capture request survives a crash of payment on %s", (_, openStorage) => {
  let nats: TestNats;
  let storage: Storage;
  let shipping: TestEventProducer;
  let events: EventProbe;
  const processes: ServiceProcess[] = [];
  const clients: PaymentClient[] = [];
  const logger = pino({ level: "silent" });

  beforeAll(async () => {
    nats = await startTestNats();
    storage = await openStorage();
    shipping = await TestEventProducer.start({ nats, producer: "shipping", publishes: [ShipmentDispatchedEvent] });
    events = await EventProbe.connect(nats.url, nats.subjectPrefix);
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    for (const process of processes) await process.stop();
    await events.close();
    await shipping.close();
    await storage.drop();
    await nats.close();
  });

  async function spawnPayment(
    env: Record<string, string> = {},
  ): Promise<{ process: ServiceProcess; client: PaymentClient }> {
    const process = await spawnServiceProcess(join(__dirname, "../dist/main.js"), {
      ...storage.env,
      NATS_URL: nats.url,
      NATS_SUBJECT_PREFIX: nats.subjectPrefix,
      OUTBOX_POLL_INTERVAL_MS: "100",
      ...env,
    });
    processes.push(process);
    const client = createClient(PaymentServiceService, process.address, {
      downstream: "payment",
      logger,
      policies: { maxAttempts: 1, breaker: false, timeoutMs: 10_000 },
    });
    clients.push(client);
    return { process, client };
  }

  it("is recorded with the consumed event, and captured once by the restarted process's worker", async () => {
    // The first process's worker makes its first round at start, then sleeps for an hour: the
    // request recorded by the consumer is still waiting when the process is killed.
    const first = await spawnPayment({ CAPTURE_WORKER_INTERVAL_MS: "3600000" });
    const { paymentMethod } = await first.client.tokenizeCard({
      number: "4242 4242 4242 4242",
      expMonth: 12,
      expYear: new Date().getUTCFullYear() + 3,
      cvc: "123",
      holderName: "",
    });
    const orderId = randomUUID();
    const { payment: authorized } = await first.client.authorizePayment({
      orderId,
      customerId: "customer-1",
      amount: { currencyCode: "EUR", units: 42, nanos: 0 },
      paymentMethodId: paymentMethod?.paymentMethodId ?? "",
    });
    const paymentId = authorized?.paymentId ?? "";
    await shipping.publish(ShipmentDispatchedEvent, dispatchedShipment(orderId), { aggregateId: randomUUID() });
    await waitUntil(
      async () => (await consumedDispatches(first.process.metricsPort, "applied")) === 1,
      10_000,
      "event consumed",
    );
    expect((await first.client.getPayment({ paymentId, orderId: "" })).payment?.status).toBe(
      PaymentStatus.PAYMENT_STATUS_AUTHORIZED,
    );

    first.process.kill("SIGKILL");
    await first.process.exited;

    // Nothing in memory survived; the request lives in capture_requests. The event is not applied
    // again (the inbox recorded it), so the capture comes from the stored request.
    const second = await spawnPayment();
    await waitUntil(
      async () =>
        (await second.client.getPayment({ paymentId, orderId: "" })).payment?.status ===
        PaymentStatus.PAYMENT_STATUS_CAPTURED,
      15_000,
      "captured after the restart",
    );
    const { payment: captured } = await second.client.getPayment({ paymentId, orderId: "" });
    expect(captured?.capturedAmount).toEqual({ currencyCode: "EUR", units: 42, nanos: 0 });
    expect(captured?.ledger.filter((entry) => entry.type === LedgerEntryType.LEDGER_ENTRY_TYPE_CAPTURE)).toHaveLength(
      1,
    );
    expect(await consumedDispatches(second.process.metricsPort, "applied")).toBe(0);
    await events.waitFor(PaymentCapturedEvent, (all) => all.some((e) => e.payload.payment?.paymentId === paymentId));
    expect(
      (await events.ofType(PaymentCapturedEvent)).filter((e) => e.payload.payment?.paymentId === paymentId),
    ).toHaveLength(1);
  }, 60_000);
});
