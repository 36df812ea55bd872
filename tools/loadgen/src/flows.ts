import { randomUUID } from "node:crypto";
import type { Clock } from "./arrivals";
import { AbortedFlowError, ApiError } from "./errors";
import { type FollowUntil, OrderTracker } from "./order-tracker";
import { pickDistinct, pickOne, type Random, randomInt } from "./random";
import type { CallOptions, OrderStatusName, ProductRef, ShopApi } from "./shop-api";
import type { VirtualUser } from "./users";

/** The user flows, by the names `--flows` takes. */
export const flowNames = ["browse", "view-product", "register-login", "place-order"] as const;

/** Name of a user flow. */
export type FlowName = (typeof flowNames)[number];

/** Default mix: mostly browsing, one flow in ten places an order. */
export const defaultFlowMix = "browse=4,view-product=4,register-login=1,place-order=1";

/** The products, categories and search terms the flows pick from (read from the catalog at start). */
export interface CatalogSnapshot {
  products: ProductRef[];
  categories: string[];
  searchTerms: string[];
}

/** How an order is followed after placement. */
export type FollowMode = "stream" | "poll" | "none";

/** Settings the flows read. */
export interface FlowSettings {
  pageSize: number;
  /** Most lines per order (1 to this many distinct products, 1–2 units each). */
  maxLines: number;
  follow: FollowMode;
  until: FollowUntil;
  pollIntervalMs: number;
  orderTimeoutMs: number;
}

/** Receives what happened to one placed order. */
export type OrderSink = (outcome: string, tracker: OrderTracker) => void;

/** What a flow runs with. */
export interface FlowContext {
  api: ShopApi;
  user: VirtualUser;
  catalog: CatalogSnapshot;
  random: Random;
  settings: FlowSettings;
  clock: Clock;
  /** Aborted when the run cuts the flow off. */
  signal: AbortSignal;
  /** Runs one request as a named step: times it and counts its outcome. */
  step<T>(name: string, call: (options: CallOptions) => Promise<T>): Promise<T>;
  /** Records a placed order's outcome. */
  order: OrderSink;
}

/** A user flow: a sequence of steps; it rejects at the first failed step. */
export type Flow = (context: FlowContext) => Promise<void>;

async function browse(context: FlowContext): Promise<void> {
  const { api, settings, catalog, random } = context;
  await context.step("list-products", (options) => api.listProducts({ pageSize: settings.pageSize }, options));
  if (catalog.searchTerms.length > 0) {
    const term = pickOne(random, catalog.searchTerms);
    await context.step("search-products", (options) => api.searchProducts(term, settings.pageSize, options));
  }
  if (catalog.categories.length > 0) {
    const category = pickOne(random, catalog.categories);
    await context.step("list-category", (options) =>
      api.listProducts({ pageSize: settings.pageSize, category }, options),
    );
  }
}

async function viewProduct(context: FlowContext): Promise<void> {
  const product = pickOne(context.random, context.catalog.products);
  await context.step("get-product", (options) => context.api.viewProduct(product, options));
}

async function registerLogin(context: FlowContext): Promise<void> {
  const customer = context.user.newCustomer();
  await context.step("register", (options) => context.api.register(customer, options));
  const session = await context.step("login", (options) =>
    context.api.login(customer.email, customer.password, options),
  );
  context.user.adopt(customer, session);
}

async function placeOrder(context: FlowContext): Promise<void> {
  const { api, settings, random, clock, user } = context;
  const session = await user.session({
    register: (customer) => context.step("register", (options) => api.register(customer, options)),
    login: (email, password) => context.step("login", (options) => api.login(email, password, options)),
  });
  const products = pickDistinct(random, context.catalog.products, randomInt(random, 1, settings.maxLines));
  const lines = products.map((product) => ({ productId: product.productId, quantity: randomInt(random, 1, 2) }));
  const placedAt = clock.now();
  const tracker = new OrderTracker(placedAt, settings.until, () => clock.now());
  let placed: { orderId: string; status: OrderStatusName };
  try {
    placed = await context.step("place-order", (options) =>
      api.placeOrder(session, { idempotencyKey: randomUUID(), lines, recipientName: user.displayName }, options),
    );
  } catch (error) {
    if (error instanceof ApiError && (error.code === "http:401" || error.code === "grpc:UNAUTHENTICATED")) {
      user.invalidate();
    }
    throw error;
  }
  if (tracker.observe(placed.status) || settings.follow === "none") {
    context.order(tracker.done ? tracker.status : "NOT_FOLLOWED", tracker);
    return;
  }

  const timeout = AbortSignal.timeout(settings.orderTimeoutMs);
  const signal = AbortSignal.any([context.signal, timeout]);
  // A call cut off by --order-timeout (not by the end of the run) fails with order-timeout.
  const timedOut = (error: unknown): unknown =>
    error instanceof AbortedFlowError && timeout.aborted && !context.signal.aborted
      ? new ApiError(
          "order-timeout",
          `order still ${tracker.status || "unknown"} after --order-timeout ${settings.orderTimeoutMs} ms`,
        )
      : error;
  const follow = <T>(step: string, call: (options: CallOptions) => Promise<T>): Promise<T> =>
    context.step(step, (options) =>
      call({ ...options, signal }).catch((error: unknown) => {
        throw timedOut(error);
      }),
    );
  try {
    if (settings.follow === "stream") {
      const ended = await follow("follow-order", (options) =>
        api.watchOrder(session, placed.orderId, (status) => tracker.observe(status), options),
      );
      if (ended === "ended" && !tracker.done) {
        const status = await follow("get-order", (options) => api.getOrder(session, placed.orderId, options));
        if (!tracker.observe(status)) {
          throw new ApiError("stream-ended", `the order stream ended while the order was ${status}`);
        }
      }
    } else {
      while (!tracker.done) {
        await clock.sleep(settings.pollIntervalMs, signal);
        if (signal.aborted) throw timedOut(new AbortedFlowError());
        const status = await follow("get-order", (options) => api.getOrder(session, placed.orderId, options));
        tracker.observe(status);
      }
    }
  } catch (error) {
    const outcome =
      error instanceof ApiError && error.code === "order-timeout"
        ? tracker.status === "ORDER_STATUS_NEEDS_ATTENTION"
          ? tracker.status
          : "TIMEOUT"
        : error instanceof AbortedFlowError
          ? "ABORTED"
          : "FOLLOW_FAILED";
    context.order(outcome, tracker);
    throw error;
  }
  context.order(tracker.status, tracker);
}

/** The flows by name. */
export const flows: Record<FlowName, Flow> = {
  browse,
  "view-product": viewProduct,
  "register-login": registerLogin,
  "place-order": placeOrder,
};
