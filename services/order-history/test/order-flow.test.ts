import { existsSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { InventoryServiceService } from "@agora/contracts/agora/inventory/v1/inventory_service";
import { type Order, orderStatusToJSON } from "@agora/contracts/agora/order/v1/order";
import { OrderServiceService, type PlaceOrderRequest } from "@agora/contracts/agora/order/v1/order_service";
import { OrderHistoryServiceService } from "@agora/contracts/agora/orderhistory/v1/order_history_service";
import type { OrderView } from "@agora/contracts/agora/orderhistory/v1/order_view";
import { paymentStatusToJSON } from "@agora/contracts/agora/payment/v1/payment";
import { PaymentServiceService } from "@agora/contracts/agora/payment/v1/payment_service";
import { shipmentStatusToJSON } from "@agora/contracts/agora/shipping/v1/shipment";
import { ShippingServiceService } from "@agora/contracts/agora/shipping/v1/shipping_service";
import {
  createClient,
  EventNaming,
  NatsLink,
  type PromiseClient,
  type ServiceDefinitionLike,
} from "@agora/service-kit";
import {
  createTestDatabase,
  EventProbe,
  type ServiceProcess,
  type StartedService,
  spawnServiceProcess,
  startService,
  startTestNats,
  type TestDatabase,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import pino from "pino";
import type * as schema from "../src/db/schema";
import { orderHistoryService } from "../src/main";
import { rebuildViews } from "../src/replay";
import { ViewStore } from "../src/view-store";

// The real order flow: catalog, inventory, payment, shipping and order run from their builds as
// processes, each with its own Postgres database, on one NATS server; orders are placed through the
// order service, and order-history (in-process) must end up saying what those services say.

jest.setTimeout(120_000);

const services = ["catalog", "inventory", "payment", "shipping", "order"] as const;
type Upstream = (typeof services)[number];
const entryOf = (service: Upstream) => join(__dirname, "..", "..", service, "dist", "main.js");
const silent = pino({ level: "silent" });
const final = new Set(["SHIPPED", "REJECTED", "CANCELLED"]);
const strip = (name: string, prefix: string) => name.replace(prefix, "");

describe("order-history against the real order flow", () => {
  let nats: TestNats;
  const databases = new Map<string, TestDatabase>();
  const processes = new Map<Upstream, ServiceProcess>();
  const clients: Array<{ close(): void }> = [];
  let history: StartedService<unknown, typeof schema>;
  let probe: EventProbe;
  let orders: PromiseClient<typeof OrderServiceService>;
  let payments: PromiseClient<typeof PaymentServiceService>;
  let shipping: PromiseClient<typeof ShippingServiceService>;
  let views: PromiseClient<typeof OrderHistoryServiceService>;

  function client<D extends ServiceDefinitionLike>(definition: D, service: Upstream): PromiseClient<D> {
    const made = createClient(definition, processes.get(service)?.address ?? "", {
      downstream: service,
      logger: silent,
      policies: { maxAttempts: 1, breaker: false },
    });
    clients.push(made);
    return made;
  }

  beforeAll(async () => {
    const missing = services.filter((service) => !existsSync(entryOf(service)));
    if (missing.length > 0) {
      throw new Error(
        `build ${missing.join(", ")} first: npx turbo run build ${missing.map((s) => `--filter=@agora/${s}`).join(" ")}`,
      );
    }
    nats = await startTestNats();
    for (const name of [...services, "history"]) databases.set(name, await createTestDatabase(`history_flow_${name}`));
    const base = { NATS_URL: nats.url, NATS_SUBJECT_PREFIX: nats.subjectPrefix, OUTBOX_POLL_INTERVAL_MS: "100" };
    const start = async (service: Upstream, env: Record<string, string>) => {
      processes.set(
        service,
        await spawnServiceProcess(entryOf(service), { ...base, DATABASE_URL: databases.get(service)?.url, ...env }),
      );
    };
    await Promise.all([
      start("catalog", { SEED_DEMO_DATA: "true" }),
      start("payment", {}),
      start("shipping", { DISPATCH_DELAY_MS: "1500" }),
    ]);
    const catalogAddress = processes.get("catalog")?.address ?? "";
    await start("inventory", { SEED_DEMO_DATA: "true", DEMO_INITIAL_STOCK: "20", CATALOG_ADDR: catalogAddress });
    await start("order", {
      CATALOG_ADDR: catalogAddress,
      INVENTORY_ADDR: processes.get("inventory")?.address ?? "",
      PAYMENT_ADDR: processes.get("payment")?.address ?? "",
      SHIPPING_ADDR: processes.get("shipping")?.address ?? "",
      SAGA_RETRY_INITIAL_MS: "100",
      SAGA_RETRY_MAX_MS: "500",
      SAGA_SWEEP_INTERVAL_MS: "250",
    });
    history = await startService(orderHistoryService, { ...base, DATABASE_URL: databases.get("history")?.url });
    orders = client(OrderServiceService, "order");
    payments = client(PaymentServiceService, "payment");
    shipping = client(ShippingServiceService, "shipping");
    views = history.client(OrderHistoryServiceService);
    probe = await EventProbe.connect(nats.url, nats.subjectPrefix);
    const inventory = client(InventoryServiceService, "inventory");
    await waitUntil(
      () =>
        inventory.getStock({ skus: ["AG-COF-002", "AG-COF-003", "AG-COF-004"] }).then(
          (answer) => answer.levels.length === 3 && answer.levels.every((level) => level.onHand > 0),
          () => false,
        ),
      30_000,
      "demo stock in inventory",
    );
  }, 120_000);

  afterAll(async () => {
    for (const made of clients) made.close();
    await probe?.close();
    await history?.stop();
    await Promise.all([...processes.values()].map((process) => process.stop()));
    for (const database of databases.values()) await database.drop().catch(() => undefined);
    await nats?.close();
  });

  let keys = 0;
  function request(
    customerId: string,
    lines: PlaceOrderRequest["lines"],
    cardNumber = "4242 4242 4242 4242",
  ): PlaceOrderRequest {
    keys++;
    return {
      idempotencyKey: `history-flow-${Date.now()}-${keys}`,
      customerId,
      lines,
      shippingAddress: {
        recipientName: "Ada Lovelace",
        addressLines: ["12 St James's Square"],
        city: "London",
        postalCode: "SW1Y 4JH",
        countryCode: "GB",
        region: "",
      },
      card: {
        number: cardNumber,
        expMonth: 12,
        expYear: new Date().getUTCFullYear() + 3,
        cvc: "123",
        holderName: "Ada Lovelace",
      },
    };
  }

  async function orderOf(orderId: string): Promise<Order> {
    const { order } = await orders.getOrder({ orderId });
    if (!order) throw new Error(`order ${orderId} missing`);
    return order;
  }

  /** What the order, payment and shipping services say about an order, in the view's shape. */
  async function truth(orderId: string): Promise<Omit<OrderView, "timeline" | "updateTime">> {
    const order = await orderOf(orderId);
    const payment = await payments.getPayment({ paymentId: "", orderId }).then(
      (response) => response.payment,
      () => undefined,
    );
    const shipment = await shipping.getShipment({ shipmentId: "", orderId }).then(
      (response) => response.shipment,
      () => undefined,
    );
    return {
      orderId: order.orderId,
      customerId: order.customerId,
      status: strip(orderStatusToJSON(order.status), "ORDER_STATUS_"),
      lines: order.lines,
      total: order.total,
      placeTime: order.createTime,
      payment: payment && {
        paymentId: payment.paymentId,
        status: strip(paymentStatusToJSON(payment.status), "PAYMENT_STATUS_"),
        amount: payment.amount,
        capturedAmount: payment.capturedAmount,
      },
      shipment: shipment && {
        shipmentId: shipment.shipmentId,
        status: strip(shipmentStatusToJSON(shipment.status), "SHIPMENT_STATUS_"),
        carrier: shipment.quote?.carrier ?? "",
        trackingNumber: shipment.trackingNumber,
      },
    };
  }

  /** Ids of every event in the three streams about the order, oldest first. */
  async function eventIdsAbout(orderId: string): Promise<string[]> {
    const all = [...(await probe.all("order")), ...(await probe.all("payment")), ...(await probe.all("shipping"))];
    return all
      .filter((probed) => {
        const payload = probed.payload as {
          order?: { orderId: string };
          payment?: { orderId: string };
          shipment?: { orderId: string };
        };
        return (payload.order ?? payload.payment ?? payload.shipment)?.orderId === orderId;
      })
      .map((probed) => probed.event.id)
      .sort();
  }

  async function viewOf(orderId: string): Promise<OrderView | undefined> {
    return views.getOrderView({ orderId }).then(
      (response) => response.view,
      () => undefined,
    );
  }

  it("equals GetOrder, GetPayment and GetShipment for a batch of orders placed through the real services, and after a rebuild", async () => {
    const customers = ["history-flow-ada", "history-flow-grace", "history-flow-linus"];
    const placed = await Promise.all([
      orders.placeOrder(request(customers[0] as string, [{ productId: "pour-over-kettle", quantity: 2 }])),
      orders.placeOrder(
        request(customers[1] as string, [
          { productId: "burr-grinder", quantity: 1 },
          { productId: "coffee-beans-ethiopia", quantity: 3 },
        ]),
      ),
      orders.placeOrder(request(customers[2] as string, [{ productId: "coffee-beans-ethiopia", quantity: 1 }])),
      orders.placeOrder(
        request(customers[0] as string, [{ productId: "burr-grinder", quantity: 1 }], "4000 0000 0000 9995"),
      ),
      orders.placeOrder(request(customers[1] as string, [{ productId: "pour-over-kettle", quantity: 50 }])),
    ]);
    const cancelMe = await orders.placeOrder(
      request(customers[2] as string, [{ productId: "burr-grinder", quantity: 2 }]),
    );
    const ids = [...placed, cancelMe].map((response) => response.order?.orderId as string);
    const cancelId = cancelMe.order?.orderId as string;

    await waitUntil(
      async () => strip(orderStatusToJSON((await orderOf(cancelId)).status), "ORDER_STATUS_") === "CONFIRMED",
      30_000,
      "the order to cancel is confirmed",
    );
    await orders.cancelOrder({ orderId: cancelId, reason: "changed my mind" });

    // Every order final, paid or voided; then the read side settles on the same answer.
    await waitUntil(
      async () => {
        for (const id of ids) {
          const status = strip(orderStatusToJSON((await orderOf(id)).status), "ORDER_STATUS_");
          if (!final.has(status)) return false;
          const expected = await truth(id);
          if (status === "SHIPPED" && expected.payment?.status !== "CAPTURED") return false;
          if (status === "CANCELLED" && expected.shipment && expected.shipment.status !== "CANCELLED") return false;
        }
        return true;
      },
      60_000,
      "every order final on the write side",
    );
    const statuses = await Promise.all(
      ids.map(async (id) => strip(orderStatusToJSON((await orderOf(id)).status), "ORDER_STATUS_")),
    );
    expect(statuses).toEqual(["SHIPPED", "SHIPPED", "SHIPPED", "REJECTED", "REJECTED", "CANCELLED"]);

    /** The view's own fields as the services state them, and a timeline of exactly the order's events. */
    const agrees = async (id: string) => {
      const view = await viewOf(id);
      if (!view) return false;
      const { timeline, updateTime: _, ...fields } = view;
      const ids = timeline.map((entry) => entry.eventId).sort();
      return isDeepStrictEqual(fields, await truth(id)) && isDeepStrictEqual(ids, await eventIdsAbout(id));
    };
    const settled = async () => (await Promise.all(ids.map(agrees))).every(Boolean);
    // Wait for the read side to settle; the assertions below then show any difference in full.
    await waitUntil(settled, 30_000, "order-history agrees with the services").catch(() => undefined);
    for (const id of ids) {
      const view = await viewOf(id);
      const { timeline: _timeline, updateTime: _updateTime, ...fields } = view ?? ({} as OrderView);
      expect(fields).toEqual(await truth(id));
      expect(view?.timeline.map((entry) => entry.eventId).sort()).toEqual(await eventIdsAbout(id));
      const times = view?.timeline.map((entry) => entry.occurTime?.getTime() ?? 0) ?? [];
      expect(times).toEqual([...times].sort((a, b) => a - b));
    }
    const shipped = await viewOf(ids[0] as string);
    expect(shipped?.timeline.map((entry) => entry.eventType)).toEqual(
      expect.arrayContaining([
        "agora.order.placed",
        "agora.payment.authorized",
        "agora.order.confirmed",
        "agora.shipping.shipment_created",
        "agora.shipping.shipment_dispatched",
        "agora.payment.captured",
        "agora.order.shipped",
      ]),
    );

    // A rebuild from the streams ends with the very same rows.
    const database = history.running.database;
    if (!database) throw new Error("no database");
    const store = new ViewStore(database.db);
    const before = await store.all();
    const link = new NatsLink(nats.url, "history-flow-rebuild", silent);
    try {
      await rebuildViews({ database, store, nats: link, naming: new EventNaming(nats.subjectPrefix), logger: silent });
    } finally {
      await link.close();
    }
    expect(await store.all()).toEqual(before);
  });
});
