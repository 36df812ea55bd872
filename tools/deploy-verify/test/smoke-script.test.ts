import { execFile } from "node:child_process";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { repoRoot } from "../src/paths";

// scripts/k8s-smoke.sh against a small stand-in for the gateway that checks every request the way the
// real gateway's contract says (proto3 JSON names, Bearer token, Idempotency-Key): the script's requests
// are right, and its failure paths fail.
const script = join(repoRoot, "scripts/k8s-smoke.sh");
const token = "header.payload.signature";

interface Behaviour {
  finalStatus: string;
  seen: string[];
}

function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => resolve(data ? JSON.parse(data) : {}));
  });
}

function gateway(b: Behaviour): Server {
  let polls = 0;
  return createServer(async (req, res) => {
    const send = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    const url = req.url ?? "";
    b.seen.push(`${req.method} ${url}`);
    const json = await body(req);
    if (req.method === "GET" && url === "/readyz") return send(200, {});
    if (req.method === "POST" && url === "/v1/customers") {
      const ok =
        typeof json.email === "string" && typeof json.password === "string" && typeof json.displayName === "string";
      return ok ? send(201, { customer: { customerId: "c1" } }) : send(400, { message: "bad customer" });
    }
    if (req.method === "POST" && url === "/v1/sessions") return send(200, { accessToken: token, tokenType: "Bearer" });
    if (req.method === "GET" && url === "/v1/products") return send(200, { products: [{ productId: "p-1" }] });
    if (req.headers.authorization !== `Bearer ${token}`) return send(401, { message: "no token" });
    if (req.method === "POST" && url === "/v1/orders") {
      const lines = json.lines as { productId: string; quantity: number }[];
      const addr = json.shippingAddress as Record<string, unknown>;
      const card = json.card as Record<string, unknown>;
      const ok =
        typeof req.headers["idempotency-key"] === "string" &&
        lines?.[0]?.productId === "p-1" &&
        lines[0].quantity === 1 &&
        Array.isArray(addr?.addressLines) &&
        typeof addr?.countryCode === "string" &&
        card?.number === "4242424242424242" &&
        card.expMonth === 12 &&
        typeof card.expYear === "number" &&
        card.expYear > new Date().getFullYear() &&
        card.expYear <= new Date().getFullYear() + 50;
      return ok
        ? send(202, { order: { orderId: "o-1", status: "ORDER_STATUS_PENDING" } })
        : send(400, { message: "bad order" });
    }
    if (req.method === "GET" && url === "/v1/orders/o-1") {
      polls++;
      return send(200, { order: { orderId: "o-1", status: polls < 2 ? "ORDER_STATUS_PENDING" : b.finalStatus } });
    }
    send(404, { message: "not found" });
  });
}

async function runSmoke(finalStatus: string): Promise<{ code: number; out: string; seen: string[] }> {
  const b: Behaviour = { finalStatus, seen: [] };
  const server = gateway(b);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  try {
    return await new Promise((resolve) => {
      execFile(
        "bash",
        [script],
        { env: { ...process.env, GATEWAY_URL: `http://127.0.0.1:${port}`, SMOKE_TIMEOUT_SECONDS: "20" } },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, out: stdout + stderr, seen: b.seen }),
      );
    });
  } finally {
    server.close();
  }
}

test("the smoke scenario registers, logs in, orders and waits for CONFIRMED", async () => {
  const r = await runSmoke("ORDER_STATUS_CONFIRMED");
  expect(r.out).toContain("order o-1 is ORDER_STATUS_CONFIRMED");
  expect(r.code).toBe(0);
  expect(r.seen).toEqual(
    expect.arrayContaining([
      "POST /v1/customers",
      "POST /v1/sessions",
      "GET /v1/products",
      "POST /v1/orders",
      "GET /v1/orders/o-1",
    ]),
  );
});

test("the smoke scenario fails when the order is rejected", async () => {
  const r = await runSmoke("ORDER_STATUS_REJECTED");
  expect(r.code).not.toBe(0);
  expect(r.out).toContain("ended ORDER_STATUS_REJECTED");
});
