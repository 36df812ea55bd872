import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { OrderConfirmedEvent, OrderNeedsAttentionEvent } from "@agora/contracts";
import { OrderServiceService } from "@agora/contracts/agora/order/v1/order_service";
import { LedgerEntryType, PaymentStatus } from "@agora/contracts/agora/payment/v1/payment";
import { ShipmentStatus } from "@agora/contracts/agora/shipping/v1/shipment";
import { createClient, createLogger, type Database, openDatabase, type PromiseClient } from "@agora/service-kit";
import { EventProbe, type ServiceProcess, spawnServiceProcess, startService, waitUntil } from "@agora/testing";
import { sql } from "drizzle-orm";
import pino from "pino";
import * as schema from "../src/db/schema";
import { orderService } from "../src/main";
import { AgoraSystem, entryOf } from "./support/agora-system";
import { placeRequest, statusName, waitForStatus } from "./support/orders";

// Failures in the middle of the saga, with every service a real process where it matters: the order
// service SIGKILLed during a step and restarted; inventory down while orders are placed — the saga
// waits and completes when it returns, or compensates once its deadline passed; and a compensation
// that cannot finish parks the order in NEEDS_ATTENTION until the operator tool resumes it.

jest.setTimeout(90_000);
const run = promisify(execFile);
const quiet = pino({ level: "silent" });
const logger = createLogger({ service: "order-test", version: "test", level: "silent", format: "json" });

describe("the order saga through crashes and outages", () => {
  let system: AgoraSystem;
  let probe: EventProbe;
  const opened: Array<Database<typeof schema>> = [];
  const clients: Array<{ close(): void }> = [];

  beforeAll(async () => {
    system = await AgoraSystem.start("order_crash");
    probe = await EventProbe.connect(system.nats.url, system.nats.subjectPrefix);
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) client.close();
    for (const database of opened) await database.close();
    await probe?.close();
    await system?.stop();
  });

  async function orderDatabase(url: string): Promise<Database<typeof schema>> {
    const database = await openDatabase({ url, schema, migrations: [], logger, poolSize: 2 });
    opened.push(database);
    return database;
  }

  function orderClient(address: string): PromiseClient<typeof OrderServiceService> {
    const client = createClient(OrderServiceService, address, {
      downstream: "order",
      logger: quiet,
      policies: { maxAttempts: 1, breaker: false },
    });
    clients.push(client);
    return client;
  }

  async function stock(sku: string) {
    const [level] = (await system.inventory.getStock({ skus: [sku] })).levels;
    return { onHand: level?.onHand, reserved: level?.reserved };
  }

  async function sagaLog(database: Database<typeof schema>, orderId: string) {
    return database.rows<{ step: string; outcome: string; detail: string }>(
      sql`select step, outcome, detail from order_saga_log where order_id = ${orderId} order by id`,
    );
  }

  it("finishes a saga correctly after the order service is killed (SIGKILL) in the middle of a step", async () => {
    // Every inventory call takes 1.5 s: the kill lands while ReserveStock is in flight.
    await system.restart("inventory", { FAULT_DELAY_MS: "1500" });
    const url = system.databases.get("order")?.url as string;
    const env = system.orderEnv({ SAGA_STEP_TIMEOUT_MS: "4000", SAGA_LEASE_MS: "8500", SAGA_DEADLINE_MS: "60000" });
    let order: ServiceProcess = await spawnServiceProcess(entryOf("order"), env);
    const database = await orderDatabase(url);
    try {
      const before = await stock("AG-COF-003");
      const reserveCalls = () =>
        system.counter("inventory", "grpc_server_started_total", { grpc_method: "ReserveStock" });
      const reserveCallsBefore = await reserveCalls();
      const placed = (
        await orderClient(order.address).placeOrder(
          placeRequest({ lines: [{ productId: "pour-over-kettle", quantity: 2 }] }),
        )
      ).order;
      const orderId = placed?.orderId as string;
      await waitUntil(
        async () => {
          const [saga] = await database.rows<{ step: string; stock: boolean; leased: boolean }>(
            sql`select step, stock_may_be_held as stock, leased_until > now() as leased from order_sagas where order_id = ${orderId}`,
          );
          return saga?.step === "RESERVE_STOCK" && saga.stock && saga.leased;
        },
        1000,
        "ReserveStock begun",
      );
      // Kill only once inventory has the call (it then sits in the 1.5 s delay): the intent is recorded
      // before the call is sent, and a kill in between would leave nothing in flight.
      await waitUntil(async () => (await reserveCalls()) > reserveCallsBefore, 5000, "ReserveStock at inventory");
      order.kill("SIGKILL");
      await order.exited;
      // The reservation the dead process asked for lands at inventory anyway. (Each look at the stock
      // also takes inventory's 1.5 s, so the wait leaves room for several.)
      await waitUntil(
        async () => (await stock("AG-COF-003")).reserved === (before.reserved ?? 0) + 2,
        10_000,
        "reserved",
      );
      const [orphan] = await database.rows<{ status: string }>(
        sql`select status from orders where order_id = ${orderId}`,
      );
      expect(orphan?.status).toBe("PENDING");

      order = await spawnServiceProcess(entryOf("order"), env);
      const confirmed = await waitForStatus(orderClient(order.address), orderId, "CONFIRMED", 30_000);
      expect(confirmed.history.map((change) => statusName(change.status))).toEqual(["PENDING", "CONFIRMED"]);
      // One reservation, committed once; one authorization; one confirmation event.
      expect(await stock("AG-COF-003")).toEqual({ onHand: (before.onHand ?? 0) - 2, reserved: before.reserved });
      const payment = (await system.payment.getPayment({ paymentId: "", orderId })).payment;
      expect(
        payment?.ledger.filter((entry) => entry.type === LedgerEntryType.LEDGER_ENTRY_TYPE_AUTHORIZATION),
      ).toHaveLength(1);
      const confirmations = await probe.waitFor(OrderConfirmedEvent, (events) =>
        events.some((probed) => probed.event.aggregateId === orderId),
      );
      expect(confirmations.filter((probed) => probed.event.aggregateId === orderId)).toHaveLength(1);
      expect((await sagaLog(database, orderId)).map((entry) => entry.outcome)).toContain("taken-over");
    } finally {
      await order.stop();
      await system.restart("inventory");
    }
  }, 90_000);

  it("finishes the cancellation of a CONFIRMED order after shipping was down and the order service was killed (SIGKILL)", async () => {
    // Shipping is down from before the order (so it creates and dispatches nothing meanwhile); back with
    // a long dispatch delay, so the restarted saga finds the shipment — if any — not yet left.
    await system.kill("shipping");
    const url = (await system.newDatabase("order_cancel_crash")).url;
    const env = system.orderEnv({
      DATABASE_URL: url,
      CANCEL_WAIT_MS: "1500",
      SAGA_COMPENSATION_MAX_ATTEMPTS: "1000",
    });
    let order: ServiceProcess = await spawnServiceProcess(entryOf("order"), env);
    const database = await orderDatabase(url);
    try {
      const before = await stock("AG-COF-003");
      const orderId = (await orderClient(order.address).placeOrder(placeRequest())).order?.orderId as string;
      await waitForStatus(orderClient(order.address), orderId, "CONFIRMED");
      const answer = await orderClient(order.address)
        .cancelOrder({ orderId, reason: "changed my mind" })
        .then(
          () => "OK",
          (error: { code: number; details: string }) => `${error.code}: ${error.details}`,
        );
      expect(answer).toMatch(/^14: order .*: the cancellation is recorded and still in progress/);
      const log = await sagaLog(database, orderId);
      expect(
        log.filter((entry) => entry.step === "CANCEL_SHIPMENT" && entry.outcome === "retry").length,
      ).toBeGreaterThan(0);
      expect(log.some((entry) => entry.step === "VOID_PAYMENT")).toBe(false);
      order.kill("SIGKILL");
      await order.exited;
      // Nothing was given back while shipping could not confirm the shipment is stopped.
      expect((await system.payment.getPayment({ paymentId: "", orderId })).payment?.status).toBe(
        PaymentStatus.PAYMENT_STATUS_AUTHORIZED,
      );
      expect((await stock("AG-COF-003")).onHand).toBe((before.onHand ?? 0) - 1);

      await system.restart("shipping", { DISPATCH_DELAY_MS: "60000" });
      order = await spawnServiceProcess(entryOf("order"), env);
      const cancelled = await waitForStatus(orderClient(order.address), orderId, "CANCELLED", 30_000);
      expect(cancelled.statusReason).toBe("changed my mind");
      expect((await system.payment.getPayment({ paymentId: "", orderId })).payment?.status).toBe(
        PaymentStatus.PAYMENT_STATUS_VOIDED,
      );
      expect(await stock("AG-COF-003")).toEqual(before);
      // Called off, or never created (shipping recorded the cancellation before the confirmation).
      const shipment = await system.shipping.getShipment({ shipmentId: "", orderId }).then(
        (found) => found.shipment?.status,
        () => undefined,
      );
      expect([undefined, ShipmentStatus.SHIPMENT_STATUS_CANCELLED]).toContain(shipment);
      expect((await sagaLog(database, orderId)).map((entry) => `${entry.step} ${entry.outcome}`)).toEqual(
        expect.arrayContaining(["CANCEL_SHIPMENT done", "VOID_PAYMENT done", "RELEASE_STOCK done"]),
      );
    } finally {
      await order.stop();
      await system.restart("shipping");
    }
  }, 90_000);

  it("waits while inventory is down and completes when it returns; the watcher sees PENDING → CONFIRMED → SHIPPED", async () => {
    const service = await startService(
      orderService,
      system.orderEnv({ DATABASE_URL: (await system.newDatabase("order_wait")).url, SAGA_DEADLINE_MS: "30000" }),
    );
    try {
      const orders = service.client(OrderServiceService);
      await system.kill("inventory");
      const placed = (await orders.placeOrder(placeRequest())).order;
      const orderId = placed?.orderId as string;
      const seen: string[] = [];
      const watching = (async () => {
        for await (const update of orders.watchOrder({ orderId }, { timeoutMs: 60_000 })) {
          seen.push(statusName(update.order?.status ?? 0));
        }
      })();
      const database = service.running.database as unknown as Database<typeof schema>;
      await waitUntil(
        async () => (await sagaLog(database, orderId)).filter((entry) => entry.outcome === "retry").length >= 3,
        10_000,
        "retries while inventory is down",
      );
      expect(seen).toEqual(["PENDING"]);
      expect((await sagaLog(database, orderId)).find((entry) => entry.outcome === "retry")?.detail).toMatch(
        /UNAVAILABLE/,
      );
      await system.restart("inventory");
      await watching;
      expect(seen).toEqual(["PENDING", "CONFIRMED", "SHIPPED"]);
    } finally {
      await service.stop();
    }
  });

  it("compensates once the deadline passed, even when inventory comes back later: REJECTED, nothing held", async () => {
    const service = await startService(
      orderService,
      system.orderEnv({ DATABASE_URL: (await system.newDatabase("order_deadline")).url, SAGA_DEADLINE_MS: "2500" }),
    );
    try {
      const orders = service.client(OrderServiceService);
      const before = await stock("AG-COF-003");
      await system.kill("inventory");
      const placedAt = Date.now();
      const orderId = (await orders.placeOrder(placeRequest())).order?.orderId as string;
      const database = service.running.database as unknown as Database<typeof schema>;
      await waitUntil(
        async () => (await sagaLog(database, orderId)).some((entry) => entry.outcome === "deadline-passed"),
        10_000,
        "deadline passed",
      );
      expect(Date.now() - placedAt).toBeGreaterThanOrEqual(2500);
      // Releasing what a lost reply might have reserved needs inventory: the order stays PENDING until then.
      expect(statusName((await orders.getOrder({ orderId })).order?.status ?? 0)).toBe("PENDING");
      await system.restart("inventory");
      const rejected = await waitForStatus(orders, orderId, "REJECTED");
      expect(rejected.statusReason).toMatch(/^could not reserve the stock within 2\.5 s \(UNAVAILABLE/);
      expect(await stock("AG-COF-003")).toEqual(before);
    } finally {
      await service.stop();
    }
  });

  it("parks an order whose compensation keeps failing in NEEDS_ATTENTION; the operator tool resumes it", async () => {
    const url = (await system.newDatabase("order_parked")).url;
    const service = await startService(
      orderService,
      system.orderEnv({
        DATABASE_URL: url,
        SAGA_DEADLINE_MS: "1500",
        // Six attempts over ~2.5 s: after the outage the service's own channel may still be in its
        // reconnect backoff for a moment when the operator resumes.
        SAGA_COMPENSATION_MAX_ATTEMPTS: "6",
        SAGA_RETRY_MAX_MS: "1000",
      }),
    );
    try {
      const orders = service.client(OrderServiceService);
      await system.kill("inventory");
      const orderId = (await orders.placeOrder(placeRequest())).order?.orderId as string;
      const parked = await waitForStatus(orders, orderId, "NEEDS_ATTENTION");
      expect(parked.statusReason).toMatch(
        /^could not reserve the stock within 1\.5 s \(UNAVAILABLE.*\); then release the stock failed 6 times: UNAVAILABLE/,
      );
      await probe.waitFor(OrderNeedsAttentionEvent, (events) =>
        events.some((probed) => probed.event.aggregateId === orderId),
      );
      const tool = join(__dirname, "..", "dist", "tools", "resume-saga.js");
      const toolEnv = { ...process.env, NODE_OPTIONS: "", DATABASE_URL: url };
      const listed = await run(process.execPath, [tool, "list"], { env: toolEnv });
      expect(listed.stdout).toContain(`${orderId}  RELEASE_STOCK failed 6×`);

      await system.restart("inventory");
      const resumed = await run(process.execPath, [tool, "resume", orderId], { env: toolEnv });
      expect(resumed.stdout.trim()).toBe(`${orderId}: resumed`);
      const rejected = await waitForStatus(orders, orderId, "REJECTED");
      expect(rejected.history.map((change) => statusName(change.status))).toEqual([
        "PENDING",
        "NEEDS_ATTENTION",
        "REJECTED",
      ]);
      const again = await run(process.execPath, [tool, "resume", orderId], { env: toolEnv }).catch((error) => error);
      expect(again.code).toBe(1);
    } finally {
      await service.stop();
    }
  });
});
