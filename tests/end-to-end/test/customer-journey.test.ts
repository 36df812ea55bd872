import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { type LocalSystem, startLocalSystem } from "@agora/local-run";
import { OtlpReceiver, type ReceivedSpan, waitUntil } from "@agora/testing";

const repoRoot = resolve(__dirname, "../../..");
/**
 * E2E_GATEWAY_URL: drive a system that already runs (Kubernetes through `kubectl port-forward`, the
 * Istio ingress) instead of starting one. Its traces go elsewhere, so the trace check is left out, and
 * polls are spaced out to stay within the gateway's rate limit (the chart's default: 100 per minute).
 */
const external = process.env.E2E_GATEWAY_URL?.replace(/\/+$/, "");
const gateway = external ?? "http://127.0.0.1:8080";
const pollEveryMs = external ? 500 : 25;
const run = promisify(execFile);

/** Polls `predicate` every pollEveryMs until it holds; throws naming `what` after `timeoutMs`. */
async function eventually(predicate: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollEveryMs));
  }
}

/**
 * The whole of Agora, started by the same runner as `./agora up` (embedded databases, its own
 * nats-server, default ports) or already running at E2E_GATEWAY_URL, driven through the gateway the
 * way a customer's app would.
 */
describe("a customer's journey through the whole system", () => {
  let system: LocalSystem;
  let receiver: OtlpReceiver;
  let dataDir: string;
  const logs: string[] = [];

  beforeAll(async () => {
    if (external) return;
    receiver = await OtlpReceiver.start();
    dataDir = mkdtempSync(join(tmpdir(), "agora-e2e-"));
    system = await startLocalSystem({
      repoRoot,
      dataDir,
      otelEndpoint: receiver.endpoint,
      // Keep the journey short: ship a moment after confirmation.
      env: { DISPATCH_DELAY_MS: "300", RATE_LIMIT_MAX: "0", LOG_LEVEL: "warn" },
      writeLine: (line) => logs.push(line),
    });
  }, 240_000);

  afterAll(async () => {
    await system?.stop();
    await receiver?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (process.env.E2E_SHOW_LOGS) process.stdout.write(`${logs.join("\n")}\n`);
  }, 120_000);

  async function http<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string>; expect?: number } = {},
  ): Promise<T> {
    const response = await fetch(`${gateway}${path}`, {
      method,
      headers: {
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await response.text();
    if (response.status !== (options.expect ?? 200)) {
      throw new Error(`${method} ${path} → ${response.status} (expected ${options.expect ?? 200}): ${text}`);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  it("registers, logs in, browses, orders, and follows the order until it ships, is paid, notified and in the history", async () => {
    const email = `e2e-${randomUUID()}@example.com`;
    const registered = await http<{ customer: { customerId: string } }>("POST", "/v1/customers", {
      body: { email, password: "correct-horse-battery", displayName: "End To End" },
      expect: 201,
    });
    const session = await http<{ accessToken: string }>("POST", "/v1/sessions", {
      body: { email, password: "correct-horse-battery" },
    });
    const token = session.accessToken;

    const listed = await http<{ products: Array<{ productId: string }> }>("GET", "/v1/products?category=coffee");
    expect(listed.products.map((product) => product.productId)).toContain("pour-over-kettle");
    await eventually(
      async () => {
        const detail = await http<{ stock: { status: string } }>("GET", "/v1/products/pour-over-kettle");
        return detail.stock.status === "IN_STOCK";
      },
      30_000,
      "demo stock seeded for the kettle",
    );

    const requestId = `e2e-request-${randomUUID()}`;
    const placed = await http<{ order: { orderId: string; status: string } }>("POST", "/v1/orders", {
      token,
      expect: 202,
      headers: { "idempotency-key": `e2e-${randomUUID()}`, "x-request-id": requestId },
      body: {
        lines: [{ productId: "pour-over-kettle", quantity: 2 }],
        shippingAddress: {
          recipientName: "End To End",
          addressLines: ["1 Test Street"],
          city: "Berlin",
          postalCode: "10115",
          countryCode: "DE",
        },
        card: {
          number: "4242424242424242",
          expMonth: 12,
          expYear: new Date().getUTCFullYear() + 3,
          cvc: "123",
          holderName: "End To End",
        },
      },
    });
    const orderId = placed.order.orderId;
    expect(placed.order.status).toBe("ORDER_STATUS_PENDING");

    // Follow it as server-sent events until the stream ends at a final status.
    const stream = await fetch(`${gateway}/v1/orders/${orderId}/events`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(stream.headers.get("content-type")).toMatch(/text\/event-stream/);
    const statuses: string[] = [];
    const body = await stream.text();
    for (const frame of body.split("\n\n")) {
      if (/^event: (?!message)/m.test(frame)) continue; // "end" (and heartbeat comments) carry no order
      const data = frame
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trim())
        .join("");
      if (data) statuses.push((JSON.parse(data) as { order: { status: string } }).order.status);
    }
    expect(statuses).toContain("ORDER_STATUS_CONFIRMED");
    expect(statuses.at(-1)).toBe("ORDER_STATUS_SHIPPED");

    const order = await http<{ order: { paymentId: string; customerId: string } }>("GET", `/v1/orders/${orderId}`, {
      token,
    });
    expect(order.order.customerId).toBe(registered.customer.customerId);

    await eventually(
      async () => {
        const payment = await http<{ payment: { status: string } }>("GET", `/v1/payments/${order.order.paymentId}`, {
          token,
        });
        return payment.payment.status === "PAYMENT_STATUS_CAPTURED";
      },
      30_000,
      "payment captured after dispatch",
    );

    await eventually(
      async () => {
        const { notifications } = await http<{ notifications: Array<{ eventType: string }> }>(
          "GET",
          `/v1/notifications?orderId=${orderId}`,
          { token },
        );
        const types = notifications.map((notification) => notification.eventType);
        return types.includes("agora.order.confirmed") && types.includes("agora.shipping.shipment_dispatched");
      },
      30_000,
      "notifications for confirmation and dispatch",
    );

    await eventually(
      async () => {
        const { view } = await http<{
          view: { status: string; payment?: { status: string }; shipment?: { status: string }; timeline: unknown[] };
        }>("GET", `/v1/history/orders/${orderId}`, { token });
        return (
          view.status === "SHIPPED" && view.payment?.status === "CAPTURED" && view.shipment?.status === "DISPATCHED"
        );
      },
      30_000,
      "order-history view complete",
    );

    // Another customer cannot see it.
    const otherEmail = `e2e-${randomUUID()}@example.com`;
    await http("POST", "/v1/customers", {
      body: { email: otherEmail, password: "another-long-password", displayName: "Other" },
      expect: 201,
    });
    const other = await http<{ accessToken: string }>("POST", "/v1/sessions", {
      body: { email: otherEmail, password: "another-long-password" },
    });
    await http("GET", `/v1/orders/${orderId}`, { token: other.accessToken, expect: 404 });
    await http("GET", `/v1/history/orders/${orderId}`, { token: other.accessToken, expect: 404 });

    // One trace covers the order: the gateway's call, the order service, the saga's calls to inventory
    // and payment, and the event consumers downstream (traces of an external system go elsewhere).
    if (external) return;
    await waitUntil(
      () => servicesInTrace(receiver.spans, requestId).has("order-history"),
      30_000,
      "the trace reaching the read side",
    );
    const services = servicesInTrace(receiver.spans, requestId);
    for (const service of ["gateway", "order", "inventory", "payment", "shipping", "notification", "order-history"]) {
      expect(services).toContain(service);
    }
  });

  it("runs the README's curl tour as written", async () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## The HTTP tour"));
    const written = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
    expect(written).toMatch(/^GW=http:\/\/localhost:8080$/m);
    // Against an external system only the gateway's address changes.
    const script = external ? (written as string).replace(/^GW=.*$/m, `GW=${external}`) : (written as string);
    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], { timeout: 120_000 });
    expect(stdout).toContain("ORDER_STATUS_SHIPPED");
  });
});

/** Services that have spans in the trace of the request with this id (the gateway's x-request-id). */
function servicesInTrace(spans: readonly ReceivedSpan[], requestId: string): Set<string> {
  const placing = spans.find(
    (span) =>
      span.name === "agora.order.v1.OrderService/PlaceOrder" && span.attributes["agora.correlation_id"] === requestId,
  );
  if (!placing) return new Set();
  return new Set(spans.filter((span) => span.traceId === placing.traceId).map((span) => span.service));
}
