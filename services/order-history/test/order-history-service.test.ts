import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { OrderStatus } from "@agora/contracts/agora/order/v1/order";
import { OrderHistoryServiceService } from "@agora/contracts/agora/orderhistory/v1/order_history_service";
import type { OrderView } from "@agora/contracts/agora/orderhistory/v1/order_view";
import { PaymentStatus } from "@agora/contracts/agora/payment/v1/payment";
import { ShipmentStatus } from "@agora/contracts/agora/shipping/v1/shipment";
import { type Database, EventNaming, NatsLink, type PromiseClient } from "@agora/service-kit";
import {
  createTestDatabase,
  type StartedService,
  startService,
  startTestNats,
  type TestDatabase,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import * as grpc from "@grpc/grpc-js";
import { sql } from "drizzle-orm";
import pino from "pino";
import type * as schema from "../src/db/schema";
import { orderHistoryService } from "../src/main";
import { applyEvents, emptyView, toOrderView } from "../src/projection";
import { rebuildViews } from "../src/replay";
import { projectedEventsByType } from "../src/view-events";
import { ViewStore } from "../src/view-store";
import { type OrderStory, orderStory, type StoryKind, type StoryStep, statusName } from "./support/order-stories";
import { HeldProducer, type RecordedRow, RelayedProducer } from "./support/producers";

const run = promisify(execFile);
const customers = [randomUUID(), randomUUID(), randomUUID()];
const kinds: StoryKind[] = [
  "shipped",
  "refunded",
  "confirmed",
  "out-of-stock",
  "declined",
  "cancelled",
  "needs-attention",
];
let clock = Date.parse("2026-11-20T09:00:00.000Z");

function stories(count: number, offset = 0): OrderStory[] {
  const start = clock;
  clock += (count + 1) * 60_000;
  return Array.from({ length: count }, (_, i) =>
    orderStory(kinds[(i + offset) % kinds.length] as StoryKind, {
      customerId: customers[(i + offset) % customers.length] as string,
      placedAt: new Date(start + (i + 1) * 60_000),
      index: i + offset,
    }),
  );
}

/** What the order, payment and shipping services would answer about the order at the end. */
function truthOf(story: OrderStory): Omit<OrderView, "timeline" | "updateTime"> {
  const orderStatus = statusName(story.order.status, "ORDER_STATUS_", OrderStatus);
  return {
    orderId: story.orderId,
    customerId: story.customerId,
    status: orderStatus,
    lines: story.order.lines,
    total: story.order.total,
    placeTime: story.order.createTime,
    payment: story.payment
      ? {
          paymentId: story.payment.paymentId,
          status: statusName(story.payment.status, "PAYMENT_STATUS_", PaymentStatus),
          amount: story.payment.amount,
          capturedAmount: story.payment.capturedAmount,
        }
      : undefined,
    shipment: story.shipment
      ? {
          shipmentId: story.shipment.shipmentId,
          status: statusName(story.shipment.status, "SHIPMENT_STATUS_", ShipmentStatus),
          carrier: story.shipment.quote?.carrier ?? "",
          trackingNumber: story.shipment.trackingNumber,
        }
      : undefined,
  };
}

describe("order-history on real Postgres and NATS, fed by the kit's outbox and relay", () => {
  let nats: TestNats;
  let database: TestDatabase;
  let service: StartedService<unknown, typeof schema>;
  let history: PromiseClient<typeof OrderHistoryServiceService>;
  let producers: Record<"order" | "payment" | "shipping", RelayedProducer>;
  let held: HeldProducer;
  let env: Record<string, string>;
  const published: OrderStory[] = [];

  beforeAll(async () => {
    nats = await startTestNats();
    database = await createTestDatabase("order_history");
    env = {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      NATS_SUBJECT_PREFIX: nats.subjectPrefix,
    };
    service = await startService(orderHistoryService, env);
    history = service.client(OrderHistoryServiceService);
    const [order, payment, shipping] = await Promise.all([
      RelayedProducer.start("order", nats),
      RelayedProducer.start("payment", nats),
      RelayedProducer.start("shipping", nats),
    ]);
    producers = { order, payment, shipping };
    held = await HeldProducer.open(nats);
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
    await Promise.all(Object.values(producers ?? {}).map((producer) => producer.stop()));
    await held?.close();
    await database?.drop();
    await nats?.close();
  });

  const databaseOf = (): Database<typeof schema> => {
    const opened = service.running.database;
    if (!opened) throw new Error("order-history has no database");
    return opened;
  };
  const producerOf = (step: StoryStep) => producers[step.eventType.context as "order" | "payment" | "shipping"];

  /** Publishes stories the way the services do: each event from its own service, in causal order. */
  async function publishThroughServices(batch: OrderStory[]): Promise<void> {
    for (const story of batch) for (const step of story.steps) await producerOf(step).write([step]);
    published.push(...batch);
  }

  async function viewOf(orderId: string): Promise<OrderView | undefined> {
    return history.getOrderView({ orderId }).then(
      (response) => response.view,
      (error: grpc.ServiceError) => {
        if (error.code === grpc.status.NOT_FOUND) return undefined;
        throw error;
      },
    );
  }

  async function waitForViews(batch: OrderStory[]): Promise<Map<string, OrderView>> {
    const views = new Map<string, OrderView>();
    await waitUntil(
      async () => {
        for (const story of batch) {
          if (views.get(story.orderId)?.timeline.length === story.steps.length) continue;
          const view = await viewOf(story.orderId);
          if (view) views.set(story.orderId, view);
        }
        return batch.every((story) => views.get(story.orderId)?.timeline.length === story.steps.length);
      },
      30_000,
      "every view caught up with its events",
    );
    return views;
  }

  function expectTruth(view: OrderView | undefined, story: OrderStory): void {
    expect(view).toMatchObject(truthOf(story));
    expect(view?.payment).toEqual(truthOf(story).payment);
    expect(view?.shipment).toEqual(truthOf(story).shipment);
    expect(view?.timeline.map((entry) => entry.eventType)).toEqual(story.steps.map((step) => step.eventType.type));
    expect(view?.timeline.map((entry) => entry.occurTime)).toEqual(story.steps.map((step) => step.occurredAt));
    expect(view?.updateTime).toEqual(story.steps.at(-1)?.occurredAt);
  }

  /** The view the pure projection gives for recorded events, applied in their causal order. */
  function foldRecorded(orderId: string, rows: readonly RecordedRow[], steps: readonly StoryStep[]): OrderView {
    const events = rows.map((row, index) => {
      const step = steps[index] as StoryStep;
      const event = projectedEventsByType.get(row.eventType)?.toViewEvent(step.payload, {
        id: row.eventId,
        type: row.eventType,
        occurredAt: step.occurredAt,
        aggregateVersion: row.aggregateVersion,
      });
      if (!event) throw new Error(`${row.eventType} not projected`);
      return event;
    });
    return toOrderView(applyEvents(emptyView(orderId), events));
  }

  it("equals the order, payment and shipping services' truth after a batch of orders", async () => {
    const batch = stories(14);
    await publishThroughServices(batch);
    const views = await waitForViews(batch);
    for (const story of batch) expectTruth(views.get(story.orderId), story);
  }, 60_000);

  it("ends in the same views when events arrive out of order and twice", async () => {
    const batch = stories(7, 3);
    const recorded = new Map<string, RecordedRow[]>();
    for (const story of batch) recorded.set(story.orderId, await held.write(story.steps));
    const rowsOf = (story: OrderStory) => recorded.get(story.orderId) as RecordedRow[];
    const isType = (row: RecordedRow, prefix: string) => row.eventType.startsWith(prefix);

    // Shipment and payment events first, before the order exists: the views must not lose them.
    const early = batch.flatMap((story) => rowsOf(story).filter((row) => !isType(row, "agora.order.")));
    await held.publish([...early].reverse());
    await waitUntil(
      async () => {
        const [hidden] = await databaseOf().rows<{ count: number }>(
          sql`select count(*)::int as count from order_views where place_time is null`,
        );
        return Number(hidden?.count) === batch.filter((story) => story.payment || story.shipment).length;
      },
      20_000,
      "hidden views for orders only known from payment and shipping events",
    );
    const withoutOrder = batch.find((story) => story.payment);
    if (withoutOrder) await expect(viewOf(withoutOrder.orderId)).resolves.toBeUndefined();

    // Then the order events newest version first (confirmed before placed), and everything once more.
    const orderRows = batch.flatMap((story) => rowsOf(story).filter((row) => isType(row, "agora.order.")));
    await held.publish([...orderRows].reverse());
    await held.publish(batch.flatMap(rowsOf), { again: true });

    const views = await waitForViews(batch);
    for (const story of batch) {
      expectTruth(views.get(story.orderId), story);
      expect(views.get(story.orderId)).toEqual(foldRecorded(story.orderId, rowsOf(story), story.steps));
    }
    published.push(...batch);
  }, 60_000);

  it("lists a customer's orders newest first, page by page, and only to that customer", async () => {
    const customerId = customers[0] as string;
    const mine = published
      .filter((story) => story.customerId === customerId)
      .sort((a, b) => (b.order.createTime?.getTime() ?? 0) - (a.order.createTime?.getTime() ?? 0));
    const seen: string[] = [];
    let pageToken = "";
    do {
      const response = await history.listCustomerOrders({ customerId, page: { pageSize: 2, pageToken } });
      expect(response.views.length).toBeLessThanOrEqual(2);
      seen.push(...response.views.map((view) => view.orderId));
      pageToken = response.page?.nextPageToken ?? "";
    } while (pageToken !== "");
    expect(seen).toEqual(mine.map((story) => story.orderId));

    const asCustomer = (id: string) => ({ metadata: { "x-agora-customer-id": id } });
    const own = await history.listCustomerOrders({ customerId: "", page: undefined }, asCustomer(customerId));
    expect(own.views.map((view) => view.orderId)).toEqual(seen.slice(0, 20));
    await expect(
      history.listCustomerOrders({ customerId: customers[1] as string, page: undefined }, asCustomer(customerId)),
    ).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });

    const someoneElses = published.find((story) => story.customerId !== customerId) as OrderStory;
    await expect(history.getOrderView({ orderId: someoneElses.orderId }, asCustomer(customerId))).rejects.toMatchObject(
      { code: grpc.status.NOT_FOUND },
    );
    const ownOrder = mine[0] as OrderStory;
    await expect(history.getOrderView({ orderId: ownOrder.orderId }, asCustomer(customerId))).resolves.toMatchObject({
      view: { orderId: ownOrder.orderId },
    });
    await expect(history.getOrderView({ orderId: randomUUID() })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
    await expect(history.getOrderView({ orderId: "not-a-uuid" })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^order_id: /),
    });
    await expect(history.listCustomerOrders({ customerId: "", page: undefined })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^customer_id: /),
    });
    await expect(
      history.listCustomerOrders({ customerId, page: { pageSize: 0, pageToken: "garbage" } }),
    ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/^page.page_token/) });
  });

  it("rebuild (node dist/rebuild.js) replays the streams into fresh tables and ends identical to the live views", async () => {
    const store = new ViewStore(databaseOf().db);
    const before = await store.all();
    expect(before.length).toBe(published.length);
    const { stdout } = await run(process.execPath, [join(__dirname, "../dist/rebuild.js")], {
      env: { ...process.env, ...env, NODE_OPTIONS: "", LOG_LEVEL: "warn", LOG_FORMAT: "json" },
    });
    const result = JSON.parse(stdout.trim().split("\n").at(-1) as string);
    expect(result).toMatchObject({ rebuilt: true, views: published.length });
    const after = await store.all();
    expect(after).toEqual(before);
    const [leftover] = await databaseOf().rows<{ count: number }>(
      sql`select count(*)::int as count from order_views_rebuild`,
    );
    expect(Number(leftover?.count)).toBe(0);
  }, 60_000);

  it("rebuilds while events keep arriving: none is lost across the swap, and the live consumers follow the new table", async () => {
    const link = new NatsLink(nats.url, "rebuild-test", pino({ level: "silent" }));
    const running = databaseOf();
    const store = new ViewStore(running.db);
    const during = stories(3, 20);
    try {
      await rebuildViews({
        database: running,
        store,
        nats: link,
        naming: new EventNaming(nats.subjectPrefix),
        logger: pino({ level: "silent" }),
        batchSize: 7,
        // Events that arrive after the replay caught up, applied by the live consumers to the old table.
        beforeSwap: async () => {
          await publishThroughServices(during);
          await waitForViews(during);
        },
      });
    } finally {
      await link.close();
    }
    const views = await waitForViews(during);
    for (const story of during) expectTruth(views.get(story.orderId), story);

    const afterSwap = stories(2, 30);
    await publishThroughServices(afterSwap);
    for (const story of afterSwap) expectTruth((await waitForViews(afterSwap)).get(story.orderId), story);
    expect((await store.all()).length).toBe(published.length);
  }, 60_000);
});
