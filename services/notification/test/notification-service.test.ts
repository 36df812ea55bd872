import { randomUUID } from "node:crypto";
import { OrderPlacedEvent } from "@agora/contracts";
import { Channel, type Notification } from "@agora/contracts/agora/notification/v1/notification";
import { NotificationServiceService } from "@agora/contracts/agora/notification/v1/notification_service";
import type { Database, PromiseClient } from "@agora/service-kit";
import {
  createTestDatabase,
  freePort,
  type StartedService,
  startService,
  startTestNats,
  type TestDatabase,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import * as grpc from "@grpc/grpc-js";
import { sql } from "drizzle-orm";
import type * as schema from "../src/db/schema";
import { notificationService } from "../src/main";
import { noticesByType } from "../src/messages";
import { cancelled, newOrder, rejectedAndStuck, shippedAndRefunded } from "./support/order-events";
import { EventSource, knownCustomers, type RecordedEvent, standInIdentity } from "./support/stand-ins";

function customer(name: string) {
  const customerId = randomUUID();
  knownCustomers.set(customerId, {
    customerId,
    email: `${name.toLowerCase()}@example.com`,
    displayName: name,
    createTime: new Date(),
  });
  return customerId;
}

describe("notification on real Postgres and NATS, fed by the kit's outbox and relay", () => {
  let nats: TestNats;
  let database: TestDatabase;
  let identityPort: number;
  let identity: StartedService<unknown, Record<string, never>> | undefined;
  let service: StartedService<unknown, typeof schema>;
  let notifications: PromiseClient<typeof NotificationServiceService>;
  let source: EventSource;
  const ada = customer("Ada");
  const grace = customer("Grace");

  const startIdentity = async () => {
    identity = await startService(standInIdentity, { GRPC_PORT: String(identityPort) });
  };

  beforeAll(async () => {
    nats = await startTestNats();
    database = await createTestDatabase("notification");
    identityPort = await freePort();
    await startIdentity();
    service = await startService(notificationService, {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      NATS_SUBJECT_PREFIX: nats.subjectPrefix,
      IDENTITY_ADDR: `127.0.0.1:${identityPort}`,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error", // the retry test makes it warn on purpose
    });
    notifications = service.client(NotificationServiceService);
    source = await EventSource.start(nats);
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
    await identity?.stop();
    await source?.stop();
    await database?.drop();
    await nats?.close();
  });

  const databaseOf = (): Database<typeof schema> => {
    const opened = service.running.database;
    if (!opened) throw new Error("notification has no database");
    return opened;
  };

  async function sentFor(events: readonly RecordedEvent[]): Promise<Array<{ event_id: string; copies: number }>> {
    const ids = events.map((event) => event.eventId);
    const rows = await databaseOf().rows<{ event_id: string; copies: number }>(
      sql`select event_id::text, count(*)::int as copies from notifications
          where event_id::text in (${sql.join(
            ids.map((id) => sql`${id}`),
            sql`, `,
          )}) group by event_id`,
    );
    return rows.map((row) => ({ event_id: row.event_id, copies: Number(row.copies) }));
  }

  async function metric(name: string, labels: Record<string, string>): Promise<number> {
    const text = await (await fetch(service.metricsUrl)).text();
    return text
      .split("\n")
      .filter(
        (line) =>
          line.startsWith(`${name}{`) &&
          Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`)),
      )
      .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
  }

  async function processed(events: readonly RecordedEvent[]): Promise<boolean> {
    const [row] = await databaseOf().rows<{ count: number }>(
      sql`select count(distinct event_id)::int as count from agora_processed_events where event_id::text in (${sql.join(
        events.map((event) => sql`${event.eventId}`),
        sql`, `,
      )})`,
    );
    return Number(row?.count) === events.length;
  }

  const notified = (events: readonly RecordedEvent[]) => events.filter((event) => noticesByType.has(event.eventType));

  it("sends each event's message exactly once, also when events are delivered again", async () => {
    const sentBefore = await metric("agora_notifications_total", { outcome: "sent" });
    const gracesOrders = rejectedAndStuck(grace);
    const stories = [shippedAndRefunded(ada), cancelled(ada), gracesOrders];
    const recorded = await source.write(stories.flatMap((story) => story.events));
    const expected = notified(recorded);
    expect(expected.map((event) => event.eventType)).toEqual([
      "agora.order.placed",
      "agora.order.confirmed",
      "agora.shipping.shipment_dispatched",
      "agora.payment.captured",
      "agora.payment.refunded",
      "agora.order.placed",
      "agora.order.confirmed",
      "agora.order.cancelled",
      "agora.order.placed",
      "agora.order.rejected",
    ]);
    await waitUntil(async () => (await sentFor(expected)).length === expected.length, 20_000, "every message sent");

    const duplicatesBefore = await metric("agora_events_consumed_total", { outcome: "duplicate" });
    await source.republish(recorded);
    await waitUntil(
      async () =>
        (await metric("agora_events_consumed_total", { outcome: "duplicate" })) - duplicatesBefore >= expected.length,
      20_000,
      "every redelivered event recognised as a duplicate",
    );
    const sent = await sentFor(recorded);
    expect(sent.map((row) => row.event_id).sort()).toEqual(expected.map((event) => event.eventId).sort());
    expect(sent.every((row) => row.copies === 1)).toBe(true);
    // The channel was handed each message once: the redeliveries never reached the notifier.
    expect((await metric("agora_notifications_total", { outcome: "sent" })) - sentBefore).toBe(expected.length);

    const [declined] = gracesOrders.orders;
    const { notifications: graces } = await notifications.listNotifications({
      customerId: grace,
      orderId: declined?.orderId ?? "",
      page: undefined,
    });
    expect(graces.map((notification) => [notification.eventType, notification.subject])).toEqual([
      ["agora.order.rejected", `Your order ${declined?.orderId.slice(0, 8)}… could not be completed`],
      ["agora.order.placed", `We received your order ${declined?.orderId.slice(0, 8)}… — 3 items, 134.30 EUR`],
    ]);
    expect(graces[0]).toMatchObject({
      customerId: grace,
      channel: Channel.CHANNEL_EMAIL,
      orderId: declined?.orderId,
      body: expect.stringMatching(/^Hello Grace,\n\n/),
      sendTime: expect.any(Date),
    });
  }, 60_000);

  it("acknowledges events about customers identity does not know, without a message", async () => {
    const stranger = randomUUID();
    const recorded = await source.write([
      { eventType: OrderPlacedEvent, payload: { order: newOrder(stranger) }, aggregateId: randomUUID() },
    ]);
    await waitUntil(() => processed(recorded), 20_000, "event processed");
    expect(await sentFor(recorded)).toEqual([]);
    expect(await metric("agora_notifications_total", { outcome: "unknown_customer" })).toBeGreaterThanOrEqual(1);
  });

  it("retries while identity is unavailable and sends the message once it is back", async () => {
    // A customer not looked up yet: the ones above are in notification's customer cache.
    const linus = customer("Linus");
    await identity?.stop();
    identity = undefined;
    const order = newOrder(linus);
    const retriedBefore = await metric("agora_events_consumed_total", { outcome: "retried" });
    const recorded = await source.write([
      { eventType: OrderPlacedEvent, payload: { order }, aggregateId: order.orderId },
    ]);
    await waitUntil(
      async () => (await metric("agora_events_consumed_total", { outcome: "retried" })) > retriedBefore,
      20_000,
      "a failed attempt",
    );
    expect(await sentFor(recorded)).toEqual([]);
    await startIdentity();
    await waitUntil(async () => (await sentFor(recorded)).length === 1, 40_000, "message sent after identity is back");
    expect(await sentFor(recorded)).toEqual([{ event_id: recorded[0]?.eventId, copies: 1 }]);
  }, 60_000);

  it("lists a customer's notifications newest first, page by page, by order, and only to that customer", async () => {
    const all: Notification[] = [];
    let pageToken = "";
    do {
      const response = await notifications.listNotifications({
        customerId: ada,
        orderId: "",
        page: { pageSize: 3, pageToken },
      });
      expect(response.notifications.length).toBeLessThanOrEqual(3);
      all.push(...response.notifications);
      pageToken = response.page?.nextPageToken ?? "";
    } while (pageToken !== "");
    const [count] = await databaseOf().rows<{ count: number }>(
      sql`select count(*)::int as count from notifications where customer_id = ${ada}`,
    );
    expect(all).toHaveLength(Number(count?.count));
    expect(all.length).toBeGreaterThanOrEqual(8); // Ada's two stories: shipped and refunded, cancelled
    expect(new Set(all.map((notification) => notification.notificationId)).size).toBe(all.length);
    // Newest first means in the order they were recorded (the row sequence): send times of
    // notifications recorded concurrently by the three consumers may be a millisecond out of that order.
    const recorded = await databaseOf().rows<{ notification_id: string }>(
      sql`select notification_id from notifications where customer_id = ${ada} order by seq desc`,
    );
    expect(all.map((notification) => notification.notificationId)).toEqual(recorded.map((row) => row.notification_id));
    expect(all.every((notification) => notification.customerId === ada)).toBe(true);

    const orderId = all.find((notification) => notification.eventType === "agora.payment.refunded")?.orderId ?? "";
    const forOrder = await notifications.listNotifications({ customerId: ada, orderId, page: undefined });
    expect(forOrder.notifications.map((notification) => notification.eventType).sort()).toEqual([
      "agora.order.confirmed",
      "agora.order.placed",
      "agora.payment.captured",
      "agora.payment.refunded",
      "agora.shipping.shipment_dispatched",
    ]);

    const as = (customerId: string) => ({ metadata: { "x-agora-customer-id": customerId } });
    const own = await notifications.listNotifications({ customerId: "", orderId: "", page: undefined }, as(ada));
    expect(own.notifications.map((notification) => notification.notificationId)).toEqual(
      all.slice(0, 20).map((notification) => notification.notificationId),
    );
    await expect(
      notifications.listNotifications({ customerId: ada, orderId: "", page: undefined }, as(grace)),
    ).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(
      notifications.listNotifications({ customerId: "", orderId: "", page: undefined }),
    ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/^customer_id: /) });
    await expect(
      notifications.listNotifications({ customerId: ada, orderId: "1234", page: undefined }),
    ).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/^order_id: /) });
    await expect(
      notifications.listNotifications({ customerId: ada, orderId: "", page: { pageSize: 101, pageToken: "" } }),
    ).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^page.page_size: /),
    });
  });
});
