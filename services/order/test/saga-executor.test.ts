import { join } from "node:path";
import {
  OrderCancelledEvent,
  OrderConfirmedEvent,
  OrderNeedsAttentionEvent,
  OrderPlacedEvent,
  OrderRejectedEvent,
  OrderShippedEvent,
} from "@agora/contracts";
import {
  createLogger,
  type Database,
  eventTablesMigrations,
  Outbox,
  openDatabase,
  Registry,
  startTracing,
} from "@agora/service-kit";
import { createTestDatabase, type TestDatabase, waitUntil } from "@agora/testing";
import { asc, eq, inArray, sql } from "drizzle-orm";
import * as schema from "../src/db/schema";
import { orderSagaLog, orderSagas } from "../src/db/schema";
import { GrpcCode } from "../src/grpc-status";
import { type NewOrder, OrderStore, sagaDueChannel } from "../src/order-store";
import type { SagaSettings } from "../src/saga/place-order-saga";
import { SagaExecutor } from "../src/saga/saga-executor";
import {
  type PaymentFacts,
  type PaymentPort,
  type ShipmentPort,
  type StockPort,
  sagaOrderOf,
} from "../src/saga/saga-steps";
import { SagaStore } from "../src/saga/saga-store";
import { runResumeCommand } from "../src/tools/resume-saga";

// The executor on a real Postgres database: claims with FOR UPDATE SKIP LOCKED and leases, retries
// with backoff, the deadline, parking in NEEDS_ATTENTION and the operator's resume, a crashed
// executor's saga taken over, several executors sharing work, and a cancel during a step. Inventory
// and payment are scripted stand-ins here (what these tests are about is the executor); the tests
// with the real services are in order-flow.test.ts and order-crash.test.ts.

const logger = createLogger({ service: "order-test", version: "test", level: "silent", format: "json" });
const tracer = startTracing({ service: "order-test", version: "test" }).tracer;
const settings: SagaSettings = { retryInitialMs: 20, retryMaxMs: 200, maxCompensationAttempts: 3 };

function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(details), { code, details, metadata: {} });
}
const unavailable = () => grpcError(GrpcCode.UNAVAILABLE, "connection refused");

/** Scripted inventory, payment and shipping that record every call per order. */
class Downstreams {
  readonly calls: string[] = [];
  cancelShipment: (orderId: string) => Promise<void> = async () => {};
  reserve: (orderId: string) => Promise<void> = async () => {};
  release: (orderId: string) => Promise<void> = async () => {};
  authorize: (orderId: string) => Promise<PaymentFacts> = async (orderId) => this.authorized(orderId);
  private readonly payments = new Map<string, PaymentFacts>();

  authorized(orderId: string): PaymentFacts {
    const payment = { paymentId: `pay-${orderId.slice(0, 8)}`, state: "AUTHORIZED" as const, declineReason: "" };
    this.payments.set(orderId, payment);
    return payment;
  }

  count(prefix: string, orderId: string): number {
    return this.calls.filter((call) => call === `${prefix} ${orderId}`).length;
  }

  readonly stock: StockPort = {
    reserve: async (orderId) => {
      this.calls.push(`reserve ${orderId}`);
      await this.reserve(orderId);
      return "RESERVED";
    },
    commit: async (orderId) => {
      this.calls.push(`commit ${orderId}`);
    },
    release: async (orderId) => {
      this.calls.push(`release ${orderId}`);
      await this.release(orderId);
    },
  };

  readonly shipments: ShipmentPort = {
    cancel: async (orderId) => {
      this.calls.push(`cancel-shipment ${orderId}`);
      await this.cancelShipment(orderId);
    },
  };

  readonly port: PaymentPort = {
    authorize: async (request) => {
      this.calls.push(`authorize ${request.orderId}`);
      return this.authorize(request.orderId);
    },
    findByOrder: async (orderId) => this.payments.get(orderId),
    void: async (paymentId) => {
      this.calls.push(`void ${paymentId}`);
      for (const [orderId, payment] of this.payments) {
        if (payment.paymentId === paymentId) this.payments.set(orderId, { ...payment, state: "VOIDED" });
      }
      return { paymentId, state: "VOIDED", declineReason: "" };
    },
  };
}

describe("saga executor on a real Postgres database", () => {
  let testDatabase: TestDatabase;
  let database: Database<typeof schema>;
  let orders: OrderStore;
  const running: SagaExecutor[] = [];
  let keys = 0;

  beforeAll(async () => {
    testDatabase = await createTestDatabase("order_saga_executor");
    database = await openDatabase({
      url: testDatabase.url,
      schema,
      migrations: [eventTablesMigrations, { folder: join(__dirname, "..", "drizzle"), table: "__drizzle_migrations" }],
      logger,
    });
    orders = new OrderStore(
      database.db,
      new Outbox("order", [
        OrderPlacedEvent,
        OrderConfirmedEvent,
        OrderRejectedEvent,
        OrderCancelledEvent,
        OrderNeedsAttentionEvent,
        OrderShippedEvent,
      ]),
    );
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((executor) => executor.stop()));
  });

  afterAll(async () => {
    await database.close();
    await testDatabase.drop();
  });

  function sagaStore(overrides: Partial<SagaSettings> = {}, leaseMs = 5_000): SagaStore {
    return new SagaStore(database.db, orders, { leaseMs, settings: { ...settings, ...overrides } });
  }

  async function executor(
    downstreams: Downstreams,
    options: { store?: SagaStore; concurrency?: number; sweepIntervalMs?: number; listen?: boolean } = {},
  ): Promise<SagaExecutor> {
    const started = new SagaExecutor(
      {
        store: options.store ?? sagaStore(),
        stock: downstreams.stock,
        payments: downstreams.port,
        shipments: downstreams.shipments,
        logger,
        tracer,
        registry: new Registry(),
        listen: options.listen ? (onNotify) => database.listen(sagaDueChannel, onNotify) : undefined,
      },
      { concurrency: options.concurrency ?? 8, sweepIntervalMs: options.sweepIntervalMs ?? 200 },
    );
    await started.start();
    running.push(started);
    return started;
  }

  async function place(deadlineMs = 10_000, lease?: { token: string; ms: number }): Promise<string> {
    const order: NewOrder = {
      customerId: "customer-executor",
      idempotencyKey: `executor-key-${++keys}`,
      requestHash: "h",
      currency: "EUR",
      lines: [{ productId: "burr-grinder", sku: "AG-COF-002", name: "Burr Grinder", quantity: 1, unitPriceNanos: 10n }],
      shippingAddress: {
        recipientName: "Ada",
        addressLines: ["1 Road"],
        city: "London",
        postalCode: "N1",
        countryCode: "GB",
        region: "",
      },
      paymentMethodId: "pm_test",
      paymentMethodSummary: "visa •••• 4242",
    };
    const { view } = await orders.place(order, { deadlineMs, correlationId: "c", traceHeaders: {}, lease });
    return view.order.orderId;
  }

  /** PlaceOrder's way: the saga written under a lease of `started` and handed to it at once. */
  async function placeAndAdopt(started: SagaExecutor): Promise<string> {
    const lease = started.reserveLease();
    if (!lease) throw new Error("no free slot");
    const orderId = await place(10_000, lease);
    const view = (await orders.get(orderId)) as NonNullable<Awaited<ReturnType<OrderStore["get"]>>>;
    started.adopt(
      { orderId, leaseToken: lease.token, takenOver: false, correlationId: "c", traceHeaders: {} },
      { kind: "run", step: "RESERVE_STOCK", order: sagaOrderOf(view.order, view.lines, "") },
    );
    return orderId;
  }

  async function statusOf(orderId: string) {
    return (await orders.get(orderId))?.order;
  }

  async function waitForStatus(orderId: string, status: schema.OrderStatusName, timeoutMs = 10_000) {
    await waitUntil(async () => (await statusOf(orderId))?.status === status, timeoutMs, `order ${status}`);
    return (await orders.get(orderId)) as NonNullable<Awaited<ReturnType<OrderStore["get"]>>>;
  }

  async function log(orderId: string) {
    return database.db
      .select({ step: orderSagaLog.step, outcome: orderSagaLog.outcome, detail: orderSagaLog.detail })
      .from(orderSagaLog)
      .where(eq(orderSagaLog.orderId, orderId))
      .orderBy(asc(orderSagaLog.id));
  }

  async function events(orderId: string): Promise<string[]> {
    const rows = await database.rows<{ event_type: string }>(
      sql`select event_type from agora_outbox where aggregate_id = ${orderId} order by id`,
    );
    return rows.map((row) => row.event_type);
  }

  it("runs a kicked saga to CONFIRMED in one go, with each transition's event in the outbox", async () => {
    const downstreams = new Downstreams();
    const started = await executor(downstreams, { sweepIntervalMs: 60_000 });
    const orderId = await place();
    const kickedAt = Date.now();
    started.kick();
    const view = await waitForStatus(orderId, "CONFIRMED", 3000);
    expect(Date.now() - kickedAt).toBeLessThan(1000);
    expect(view.order.paymentId).toBe(`pay-${orderId.slice(0, 8)}`);
    expect(view.history.map((change) => change.status)).toEqual(["PENDING", "CONFIRMED"]);
    expect(downstreams.calls).toEqual([`reserve ${orderId}`, `authorize ${orderId}`, `commit ${orderId}`]);
    expect(await events(orderId)).toEqual(["agora.order.placed", "agora.order.confirmed"]);
    const [saga] = await database.db.select().from(orderSagas).where(eq(orderSagas.orderId, orderId));
    expect(saga).toMatchObject({ step: "DONE", leaseToken: null, parked: false });
    expect(saga?.completedAt).toBeInstanceOf(Date);
  });

  it("runs a saga PlaceOrder wrote under its lease at once, without claiming or beginning it", async () => {
    const downstreams = new Downstreams();
    // No sweep, no kick, no NOTIFY: only the adoption can start it.
    const started = await executor(downstreams, { sweepIntervalMs: 60_000, concurrency: 1 });
    let recorded: { stockMayBeHeld: boolean; leaseToken: string | null } | undefined;
    downstreams.reserve = async (orderId) => {
      // The intent was written with the order: a reservation may exist from the moment ReserveStock is called.
      [recorded] = await database.db
        .select({ stockMayBeHeld: orderSagas.stockMayBeHeld, leaseToken: orderSagas.leaseToken })
        .from(orderSagas)
        .where(eq(orderSagas.orderId, orderId));
    };
    const orderId = await placeAndAdopt(started);
    expect(started.reserveLease()).toBeUndefined(); // its only slot is taken
    await waitForStatus(orderId, "CONFIRMED", 3000);
    expect(recorded).toEqual({ stockMayBeHeld: true, leaseToken: expect.any(String) });
    expect(downstreams.calls).toEqual([`reserve ${orderId}`, `authorize ${orderId}`, `commit ${orderId}`]);
    expect((await log(orderId)).map((entry) => entry.outcome)).toEqual(["placed", "done", "done", "done"]);
    await waitUntil(async () => started.reserveLease() !== undefined, 2000, "the slot free again");
    started.releaseLease();
  });

  it("takes over a saga written under a lease that was never adopted (the replica died after its commit)", async () => {
    const lease = { token: "00000000-0000-4000-8000-000000000001", ms: 600 };
    const orderId = await place(10_000, lease);
    const downstreams = new Downstreams();
    await executor(downstreams, { sweepIntervalMs: 100 });
    await waitForStatus(orderId, "CONFIRMED", 5000);
    expect((await log(orderId)).map((entry) => entry.outcome)).toContain("taken-over");
    expect(downstreams.count("reserve", orderId)).toBe(1);
  });

  it("begins the next step in the transaction that records a step's outcome", async () => {
    const orderId = await place();
    const store = sagaStore();
    const [claimed] = await store.claimDue(10);
    const begun = await store.begin(orderId, claimed?.leaseToken as string);
    if (begun.kind !== "run") throw new Error(`expected a step to run, got ${begun.kind}`);
    const finished = await store.finish(
      orderId,
      claimed?.leaseToken as string,
      "RESERVE_STOCK",
      { kind: "done" },
      begun.order,
    );
    expect(finished).toMatchObject({
      kind: "decided",
      next: { kind: "run", step: "AUTHORIZE_PAYMENT", order: begun.order },
    });
    const [saga] = await database.db.select().from(orderSagas).where(eq(orderSagas.orderId, orderId));
    // AUTHORIZE_PAYMENT's intent is recorded, the lease kept.
    expect(saga).toMatchObject({ step: "AUTHORIZE_PAYMENT", paymentMayBeHeld: true, leaseToken: claimed?.leaseToken });
    // Without the order (a caller that will begin the step itself) nothing is begun.
    const other = await place();
    const [claimedOther] = await store.claimDue(10);
    const begunOther = await store.begin(other, claimedOther?.leaseToken as string);
    expect(begunOther.kind).toBe("run");
    const plain = await store.finish(other, claimedOther?.leaseToken as string, "RESERVE_STOCK", { kind: "done" });
    expect(plain).toMatchObject({ kind: "decided" });
    expect("next" in plain && plain.next).toBeFalsy();
    const [otherSaga] = await database.db.select().from(orderSagas).where(eq(orderSagas.orderId, other));
    expect(otherSaga).toMatchObject({ step: "AUTHORIZE_PAYMENT", paymentMayBeHeld: false });
    // Half-run sagas would be taken over by the executors of the tests that follow.
    await database.db.delete(schema.orders).where(inArray(schema.orders.orderId, [orderId, other]));
  });

  it("retries a failing step with growing delays (next_attempt_at) and goes on when it recovers", async () => {
    const downstreams = new Downstreams();
    let failures = 4;
    downstreams.reserve = async () => {
      if (failures-- > 0) throw unavailable();
    };
    await executor(downstreams, { listen: true });
    const orderId = await place();
    await waitForStatus(orderId, "CONFIRMED");
    expect(downstreams.count("reserve", orderId)).toBe(5);
    const retries = (await log(orderId)).filter((entry) => entry.outcome === "retry");
    expect(retries).toHaveLength(4);
    const delays = retries.map((entry) => Number(/next in (\d+) ms/.exec(entry.detail)?.[1]));
    // 20, 40, 80, 160 ms nominal, ±20 %.
    expect(delays[3] as number).toBeGreaterThan(delays[0] as number);
    expect(retries[0]?.detail).toContain("UNAVAILABLE: connection refused");
  });

  it("compensates after the deadline: releases the stock a lost reply may have reserved, then REJECTED", async () => {
    const downstreams = new Downstreams();
    downstreams.reserve = async () => {
      throw grpcError(GrpcCode.DEADLINE_EXCEEDED, "deadline exceeded");
    };
    await executor(downstreams, { listen: true });
    const orderId = await place(600);
    const view = await waitForStatus(orderId, "REJECTED", 5000);
    expect(view.order.statusReason).toMatch(/^could not reserve the stock within 0\.6 s \(DEADLINE_EXCEEDED/);
    expect(downstreams.count("release", orderId)).toBe(1);
    expect(downstreams.count("authorize", orderId)).toBe(0);
    expect(await events(orderId)).toEqual(["agora.order.placed", "agora.order.rejected"]);
  });

  it("parks a compensation that keeps failing in NEEDS_ATTENTION; the operator's resume finishes it", async () => {
    const downstreams = new Downstreams();
    downstreams.authorize = async (orderId) => ({ paymentId: `pay-${orderId}`, state: "DECLINED", declineReason: "x" });
    downstreams.release = async () => {
      throw unavailable();
    };
    const store = sagaStore();
    await executor(downstreams, { store, listen: true });
    const orderId = await place();
    const parked = await waitForStatus(orderId, "NEEDS_ATTENTION");
    expect(parked.order.statusReason).toBe(
      "payment declined: x; then release the stock failed 3 times: UNAVAILABLE: connection refused",
    );
    expect(downstreams.count("release", orderId)).toBe(3);
    expect(await events(orderId)).toEqual(["agora.order.placed", "agora.order.needs_attention"]);
    // Parked means parked: nothing runs it again on its own.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(downstreams.count("release", orderId)).toBe(3);

    const output: string[] = [];
    expect(await runResumeCommand(["list"], store, (line) => output.push(line))).toBe(0);
    expect(output.join("\n")).toContain(`${orderId}  RELEASE_STOCK failed 3×`);
    downstreams.release = async () => {};
    output.length = 0;
    expect(await runResumeCommand(["resume", orderId], store, (line) => output.push(line))).toBe(0);
    expect(output).toEqual([`${orderId}: resumed`]);
    const rejected = await waitForStatus(orderId, "REJECTED");
    expect(rejected.order.statusReason).toBe("payment declined: x");
    expect(rejected.history.map((change) => change.status)).toEqual(["PENDING", "NEEDS_ATTENTION", "REJECTED"]);
    expect((await log(orderId)).map((entry) => entry.outcome)).toContain("resumed");
    output.length = 0;
    expect(await runResumeCommand(["resume", orderId, "not-a-uuid"], store, (line) => output.push(line))).toBe(1);
    expect(output[0]).toContain("not parked");
  });

  it("takes over the saga of an executor that died mid-step once its lease ran out; its late result is dropped", async () => {
    const orderId = await place();
    // A first executor claims the saga and starts its reservation, then "dies" (never reports back).
    const crashedStore = sagaStore({}, 800);
    const [claimed] = await crashedStore.claimDue(10);
    expect(claimed?.orderId).toBe(orderId);
    const begun = await crashedStore.begin(orderId, claimed?.leaseToken as string);
    expect(begun.kind).toBe("run");

    const downstreams = new Downstreams();
    const startedAt = Date.now();
    await executor(downstreams, { store: sagaStore({}, 800), sweepIntervalMs: 100 });
    await waitForStatus(orderId, "CONFIRMED", 5000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(600);
    expect((await log(orderId)).map((entry) => entry.outcome)).toContain("taken-over");
    // The dead executor's answer arrives at last: its lease is gone, nothing is written.
    expect(
      await crashedStore.finish(orderId, claimed?.leaseToken as string, "RESERVE_STOCK", { kind: "done" }),
    ).toEqual({
      kind: "stop",
    });
    expect((await statusOf(orderId))?.status).toBe("CONFIRMED");
  });

  it("shares sagas among executors without running any step twice", async () => {
    const downstreams = new Downstreams();
    downstreams.reserve = () => new Promise((resolve) => setTimeout(resolve, 5));
    const ids = await Promise.all(Array.from({ length: 24 }, () => place()));
    const executors = await Promise.all([1, 2, 3].map(() => executor(downstreams, { concurrency: 4 })));
    for (const started of executors) started.kick();
    for (const orderId of ids) await waitForStatus(orderId, "CONFIRMED");
    for (const orderId of ids) {
      expect(downstreams.count("reserve", orderId)).toBe(1);
      expect(downstreams.count("authorize", orderId)).toBe(1);
      expect(downstreams.count("commit", orderId)).toBe(1);
    }
  });

  describe("cancelling a CONFIRMED order", () => {
    async function confirmed(downstreams: Downstreams, store: SagaStore): Promise<string> {
      const started = await executor(downstreams, { store });
      const orderId = await place();
      started.kick();
      await waitForStatus(orderId, "CONFIRMED");
      return orderId;
    }

    it("stops the shipment at shipping before it voids and releases, then CANCELLED", async () => {
      const downstreams = new Downstreams();
      const store = sagaStore();
      const orderId = await confirmed(downstreams, store);
      expect((await store.requestCancel(orderId, "changed my mind")).kind).toBe("start");
      await waitForStatus(orderId, "CANCELLED");
      expect(downstreams.calls.slice(3)).toEqual([
        `cancel-shipment ${orderId}`,
        `void pay-${orderId.slice(0, 8)}`,
        `release ${orderId}`,
      ]);
      expect(await events(orderId)).toEqual(["agora.order.placed", "agora.order.confirmed", "agora.order.cancelled"]);
    });

    it("gives nothing back when shipping says the parcel has left: SHIPPED, and CancelOrder is refused from then on", async () => {
      const downstreams = new Downstreams();
      const answer = "order o: shipment s was dispatched at …, tracking number AG1; it can no longer be cancelled";
      downstreams.cancelShipment = async () => {
        throw grpcError(GrpcCode.FAILED_PRECONDITION, answer);
      };
      const store = sagaStore();
      const orderId = await confirmed(downstreams, store);
      expect((await store.requestCancel(orderId, "changed my mind")).kind).toBe("start");
      const view = await waitForStatus(orderId, "SHIPPED");
      expect(view.order.statusReason).toBe(`the cancellation came too late: ${answer}`);
      expect(view.history.map((change) => change.status)).toEqual(["PENDING", "CONFIRMED", "SHIPPED"]);
      expect(downstreams.calls.slice(3)).toEqual([`cancel-shipment ${orderId}`]);
      expect(await events(orderId)).toEqual(["agora.order.placed", "agora.order.confirmed", "agora.order.shipped"]);
      const [saga] = await database.db.select().from(orderSagas).where(eq(orderSagas.orderId, orderId));
      expect(saga).toMatchObject({ step: "DONE", compensation: null, parked: false, leaseToken: null });
      expect(await store.requestCancel(orderId, "again")).toEqual({
        kind: "refused",
        message: "the order has shipped and can no longer be cancelled",
      });
    });

    it("parks a cancellation that cannot reach shipping with the payment and stock still held", async () => {
      const downstreams = new Downstreams();
      downstreams.cancelShipment = async () => {
        throw unavailable();
      };
      const store = sagaStore();
      const orderId = await confirmed(downstreams, store);
      await store.requestCancel(orderId, "changed my mind");
      const parked = await waitForStatus(orderId, "NEEDS_ATTENTION");
      expect(parked.order.statusReason).toBe(
        "changed my mind; then stop the shipment failed 3 times: UNAVAILABLE: connection refused",
      );
      expect(downstreams.count("cancel-shipment", orderId)).toBe(3);
      expect(downstreams.calls.filter((call) => call.startsWith("void") || call.startsWith("release"))).toEqual([]);
    });
  });

  it("lets a step in flight finish when CancelOrder comes, then compensates it to CANCELLED", async () => {
    const downstreams = new Downstreams();
    let finishReservation: () => void = () => {};
    downstreams.reserve = () => new Promise<void>((resolve) => (finishReservation = resolve));
    const store = sagaStore();
    const started = await executor(downstreams, { store });
    const orderId = await place();
    started.kick();
    await waitUntil(() => downstreams.count("reserve", orderId) === 1, 3000, "reservation in flight");
    expect((await store.requestCancel(orderId, "changed my mind")).kind).toBe("start");
    expect((await store.requestCancel(orderId, "again")).kind).toBe("in-progress");
    expect((await statusOf(orderId))?.status).toBe("PENDING");
    finishReservation();
    const view = await waitForStatus(orderId, "CANCELLED");
    expect(view.order.statusReason).toBe("changed my mind");
    expect(downstreams.count("authorize", orderId)).toBe(0);
    expect(downstreams.count("release", orderId)).toBe(1);
    expect(await events(orderId)).toEqual(["agora.order.placed", "agora.order.cancelled"]);
    expect(await store.requestCancel(orderId, "once more")).toEqual({ kind: "already-cancelled" });
  });
});
