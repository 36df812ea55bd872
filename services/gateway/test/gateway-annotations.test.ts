import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort, type StartedService, startService } from "@agora/testing";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { registryFromDescriptorSet } from "../src/descriptors";
import { gatewayService } from "../src/main";
import { registerDescriptorService } from "./support/descriptor-server";
import { type BuiltDescriptorSet, buildDescriptorSet } from "./support/descriptor-set";
import { metadataValue, registerJwksStandIn, type StandInServer, startGrpcServer } from "./support/grpc-stand-ins";
import { createSigningKey, type SigningKey, signToken } from "./support/tokens";

// The gateway is started on a descriptor set built here from test/fixtures (a contract that exists
// nowhere in proto/), served by a small grpc-js EchoService. Identity's GetJwks is a stand-in (the
// real identity service is written concurrently); it serves the public key the tests sign with.

interface Echo {
  url: string;
  started: StartedService<unknown, Record<string, never>>;
}

async function startGateway(env: Record<string, string>): Promise<Echo> {
  const port = await freePort();
  const started = (await startService(gatewayService, {
    HTTP_HOST: "127.0.0.1",
    HTTP_PORT: String(port),
    ...env,
  })) as unknown as StartedService<unknown, Record<string, never>>;
  return { url: `http://127.0.0.1:${port}`, started };
}

describe("routes generated from annotations in a contract the gateway has never seen", () => {
  let descriptorSet: BuiltDescriptorSet;
  let echo: StandInServer;
  let identity: StandInServer;
  let jwksCalls: { count: number };
  /** What the identity stand-in publishes as its JWKS (a test rotates it). */
  let publishedKeys: SigningKey["published"][];
  const jwksRefreshIntervalMs = 1000;
  let key: SigningKey;
  let forger: SigningKey;
  let gateway: Echo;
  let url: string;

  beforeAll(async () => {
    descriptorSet = buildDescriptorSet(join(__dirname, "fixtures/gatewaytest"), "agora/gatewaytest");
    const registry = registryFromDescriptorSet(readFileSync(descriptorSet.path));
    const service = registry.getService("agora.gatewaytest.v1.EchoService");
    if (!service) throw new Error("EchoService missing from the built set");
    const seen = (call: grpc.ServerUnaryCall<unknown, unknown>, key: string) => metadataValue(call.metadata, key) ?? "";
    echo = await startGrpcServer((server) =>
      registerDescriptorService(server, service, {
        Greet: (request, call) => ({
          greeting: `${`Hello ${request.name}`.repeat(Math.max(1, request.times))}${request.options?.shout ? "!" : ""}`,
          customerId: seen(call, "x-agora-customer-id"),
          requestId: seen(call, "x-request-id"),
          correlationId: seen(call, "x-correlation-id"),
          roles: seen(call, "x-agora-roles"),
          greetTime: timestampFromDate(new Date("2026-11-23T09:00:00Z")),
          tags: request.options?.tags ?? [],
        }),
        SaveNote: (request, call) => ({
          ownerId: request.ownerId,
          text: request.text,
          metadataCustomerId: seen(call, "x-agora-customer-id"),
        }),
        Fail: (request) => {
          throw { code: request.code, details: request.message };
        },
        Purge: () => ({ purged: 3 }),
        Tick: async function* (request) {
          for (let n = 1; n <= request.count; n++) {
            await new Promise((resolve) => setTimeout(resolve, request.intervalMs));
            yield { n };
          }
        },
      }),
    );
    key = await createSigningKey("test-key-1");
    forger = await createSigningKey("test-key-1");
    jwksCalls = { count: 0 };
    publishedKeys = [key.published];
    identity = await startGrpcServer((server) => registerJwksStandIn(server, () => publishedKeys, jwksCalls));
    gateway = await startGateway({
      DESCRIPTOR_SET_PATH: descriptorSet.path,
      DOWNSTREAM_ADDRS: `gatewaytest=${echo.address}`,
      IDENTITY_ADDR: identity.address,
      RATE_LIMIT_MAX: "10000",
      JWKS_REFRESH_INTERVAL_MS: String(jwksRefreshIntervalMs),
    });
    url = gateway.url;
  });

  afterAll(async () => {
    await gateway?.started.stop();
    await echo?.stop();
    await identity?.stop();
    descriptorSet?.remove();
  });

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const postJson = (path: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

  it("lists the annotated RPCs in /openapi.json, with parameters from the request message", async () => {
    const document = (await (await fetch(`${url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { parameters: Array<{ name: string; in: string }>; summary: string }>>;
    };
    expect(Object.keys(document.paths).sort()).toEqual([
      "/v1/test/failures/{code}",
      "/v1/test/greetings/{name}",
      "/v1/test/notes",
      "/v1/test/ticks",
    ]);
    expect(Object.keys(document.paths["/v1/test/notes"] ?? {}).sort()).toEqual(["delete", "post"]);
    const greet = document.paths["/v1/test/greetings/{name}"]?.get;
    expect(greet?.summary).toBe("Greets a visitor by name.");
    expect(greet?.parameters.map((parameter) => `${parameter.in}:${parameter.name}`)).toEqual([
      "path:name",
      "query:times",
      "query:options.shout",
      "query:options.tags",
    ]);
    expect(document.paths["/v1/test/notes"]?.post?.summary).toBe("Saves a note.");
  });

  it("serves the annotated GET route: path variable, query string with nested and repeated fields", async () => {
    const response = await fetch(
      `${url}/v1/test/greetings/Ada?times=2&options.shout=true&options.tags=a&options.tags=b`,
    );
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      greeting: "Hello AdaHello Ada!",
      customerId: "",
      greetTime: "2026-11-23T09:00:00Z",
      tags: ["a", "b"],
    });
    // Fields at their default value are present in responses.
    expect(Object.keys(body).sort()).toEqual(
      ["correlationId", "customerId", "greetTime", "greeting", "requestId", "roles", "tags"].sort(),
    );
  });

  it("passes the customer of a valid token on a public route, and treats a bad token there as anonymous", async () => {
    const token = await signToken(key, { sub: "customer-a" });
    const withToken = (await (
      await fetch(`${url}/v1/test/greetings/Ada`, { headers: bearer(token) })
    ).json()) as Record<string, string>;
    expect(withToken).toMatchObject({ customerId: "customer-a", roles: "customer" });
    const forged = await fetch(`${url}/v1/test/greetings/Ada`, {
      headers: bearer(await signToken(forger, { sub: "x" })),
    });
    expect(forged.status).toBe(200);
    expect(((await forged.json()) as Record<string, string>).customerId).toBe("");
  });

  describe("a customer route", () => {
    const note = JSON.stringify({ text: "buy beans", priority: 2 });

    it.each([
      ["no token", async () => ({})],
      ["a forged token (right kid, other key)", async () => bearer(await signToken(forger, { sub: "customer-a" }))],
      ["an expired token", async () => bearer(await signToken(key, { sub: "customer-a", expiresInSeconds: -120 }))],
      ["a token for another audience", async () => bearer(await signToken(key, { sub: "customer-a", aud: "other" }))],
      ["a malformed token", async () => bearer("not-a-token")],
      ["a non-bearer header", async () => ({ authorization: "Basic dXNlcjpwYXNz" })],
    ])("answers 401 with WWW-Authenticate for %s", async (_name, headers) => {
      const response = await postJson("/v1/test/notes", note, await headers());
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer realm="agora"/);
      const body = (await response.json()) as { error: { code: string; requestId: string } };
      expect(body.error.code).toBe("UNAUTHENTICATED");
      expect(body.error.requestId).toBe(response.headers.get("x-request-id"));
    });

    it("answers 401 for a token from an unknown key, refreshing the keys once, not per request", async () => {
      const stranger = await createSigningKey("unknown-kid");
      // Past the minimum interval since the last fetch (the one at start), so the first unknown kid refreshes.
      await sleep(jwksRefreshIntervalMs + 100);
      const before = jwksCalls.count;
      for (let i = 0; i < 3; i++) {
        const response = await postJson(
          "/v1/test/notes",
          note,
          bearer(await signToken(stranger, { sub: "customer-a" })),
        );
        expect(response.status).toBe(401);
        expect(((await response.json()) as { error: { message: string } }).error.message).toBe(
          "token signed with an unknown key",
        );
      }
      expect(jwksCalls.count - before).toBe(1);
    });

    it("accepts a token from a key identity starts publishing later (rotation), after one refresh", async () => {
      const rotated = await createSigningKey("test-key-2");
      publishedKeys = [key.published, rotated.published];
      await sleep(jwksRefreshIntervalMs + 100);
      const before = jwksCalls.count;
      try {
        const response = await postJson(
          "/v1/test/notes",
          note,
          bearer(await signToken(rotated, { sub: "customer-a" })),
        );
        expect(response.status).toBe(201);
        expect(jwksCalls.count - before).toBe(1);
      } finally {
        publishedKeys = [key.published];
      }
    });

    it("with a valid token: success_status, the customer as metadata and in customer_id_field, overriding the client", async () => {
      const token = await signToken(key, { sub: "customer-a" });
      const response = await postJson(
        "/v1/test/notes",
        JSON.stringify({ ownerId: "customer-b", text: "buy beans", priority: 2 }),
        bearer(token),
      );
      expect(response.status).toBe(201);
      expect(await response.json()).toEqual({
        ownerId: "customer-a",
        text: "buy beans",
        metadataCustomerId: "customer-a",
      });
    });

    it("answers 400 naming the field for wrong types and unknown fields, and for malformed JSON", async () => {
      const headers = bearer(await signToken(key, { sub: "customer-a" }));
      const message = async (response: Response) => {
        expect(response.status).toBe(400);
        return ((await response.json()) as { error: { code: string; message: string } }).error;
      };
      expect(await message(await postJson("/v1/test/notes", '{"priority":"high"}', headers))).toEqual({
        code: "INVALID_ARGUMENT",
        message: 'priority: expected an integer (int32), got "high"',
        requestId: expect.any(String),
      });
      expect((await message(await postJson("/v1/test/notes", '{"colour":"red"}', headers))).message).toMatch(
        /^colour: unknown field/,
      );
      expect((await message(await postJson("/v1/test/notes", '{"text": "unterminated', headers))).message).toMatch(
        /^request body: not valid JSON/,
      );
      expect((await message(await postJson("/v1/test/notes", "[1,2]", headers))).message).toBe(
        "request body: expected a JSON object",
      );
    });
  });

  it("answers 403 to a customer on an admin route, 401 without a token, and serves an admin", async () => {
    const customer = await fetch(`${url}/v1/test/notes`, {
      method: "DELETE",
      headers: bearer(await signToken(key, { sub: "customer-a" })),
    });
    expect(customer.status).toBe(403);
    expect(((await customer.json()) as { error: { code: string } }).error.code).toBe("PERMISSION_DENIED");
    expect((await fetch(`${url}/v1/test/notes`, { method: "DELETE" })).status).toBe(401);
    const admin = await fetch(`${url}/v1/test/notes`, {
      method: "DELETE",
      headers: bearer(await signToken(key, { sub: "admin-1", roles: ["customer", "admin"] })),
    });
    expect(admin.status).toBe(200);
    expect(await admin.json()).toEqual({ purged: 3 });
  });

  it.each([
    [grpc.status.INVALID_ARGUMENT, 400],
    [grpc.status.OUT_OF_RANGE, 400],
    [grpc.status.UNAUTHENTICATED, 401],
    [grpc.status.PERMISSION_DENIED, 403],
    [grpc.status.NOT_FOUND, 404],
    [grpc.status.ALREADY_EXISTS, 409],
    [grpc.status.ABORTED, 409],
    [grpc.status.FAILED_PRECONDITION, 409],
    [grpc.status.RESOURCE_EXHAUSTED, 429],
    [grpc.status.CANCELLED, 499],
    [grpc.status.UNIMPLEMENTED, 501],
    [grpc.status.UNAVAILABLE, 503],
    [grpc.status.DEADLINE_EXCEEDED, 504],
    [grpc.status.INTERNAL, 500],
    [grpc.status.UNKNOWN, 500],
    [grpc.status.DATA_LOSS, 500],
  ])("maps gRPC status %i to HTTP %i with the code name and request id", async (code, status) => {
    const response = await postJson(`/v1/test/failures/${code}`, JSON.stringify({ message: "thing: went wrong" }), {
      "x-request-id": `req-${code}`,
    });
    expect(response.status).toBe(status);
    const body = (await response.json()) as { error: { code: string; message: string; requestId: string } };
    expect(body.error.code).toBe(grpc.status[code]);
    expect(body.error.requestId).toBe(`req-${code}`);
    if (status < 500) expect(body.error.message).toBe("thing: went wrong");
    else expect(body.error.message).toMatch(/gatewaytest/);
  });

  it("takes the request id from x-request-id or makes one, and passes it downstream as request and correlation id", async () => {
    const given = await fetch(`${url}/v1/test/greetings/Ada`, { headers: { "x-request-id": "req-abc-123" } });
    expect(given.headers.get("x-request-id")).toBe("req-abc-123");
    expect(await given.json()).toMatchObject({ requestId: "req-abc-123", correlationId: "req-abc-123" });

    const made = await fetch(`${url}/v1/test/greetings/Ada`);
    const id = made.headers.get("x-request-id") ?? "";
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await made.json()).toMatchObject({ requestId: id, correlationId: id });

    const unsafe = await fetch(`${url}/v1/test/greetings/Ada`, { headers: { "x-request-id": "a b\tc" } });
    expect(unsafe.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers unknown routes with 404 and wrong methods with 405, as JSON", async () => {
    const missing = await fetch(`${url}/v1/test/nothing-here`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
    const wrong = await fetch(`${url}/v1/test/greetings/Ada`, { method: "POST" });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET, HEAD");
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe("METHOD_NOT_ALLOWED");
    // The RPC without an annotation is not reachable.
    expect((await fetch(`${url}/v1/test/internal`)).status).toBe(404);
  });

  it("exports HTTP RED metrics by route template on the kit's metrics port", async () => {
    await fetch(`${url}/v1/test/greetings/Metrics`);
    const metrics = await (await fetch(gateway.started.metricsUrl)).text();
    expect(metrics).toMatch(
      /http_requests_total\{method="GET",route="\/v1\/test\/greetings\/\{name\}",status="200"[^}]*\} \d+/,
    );
    expect(metrics).toMatch(
      /http_request_duration_seconds_bucket\{le="0.1",[^}]*route="\/v1\/test\/greetings\/\{name\}"/,
    );
    expect(metrics).toMatch(/http_requests_total\{method="GET",route="unmatched",status="404"/);
  });

  it("serves an annotated server-streaming RPC as server-sent events", async () => {
    const response = await fetch(`${url}/v1/test/ticks?count=3&intervalMs=20`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const text = await response.text();
    expect(text.split("\n\n").filter((frame) => frame.startsWith("event:"))).toEqual([
      'event: message\ndata: {"n":1}',
      'event: message\ndata: {"n":2}',
      'event: message\ndata: {"n":3}',
      "event: end\ndata: {}",
    ]);
    // A bad request never starts a stream.
    const bad = await fetch(`${url}/v1/test/ticks?count=many`);
    expect(bad.status).toBe(400);
  });

  it("answers /healthz always and /readyz while serving", async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: "serving" });
  });
});

describe("rate limiting", () => {
  let descriptorSet: BuiltDescriptorSet;
  let echo: StandInServer;
  let identity: StandInServer;
  let key: SigningKey;
  let gateway: Echo;

  beforeAll(async () => {
    descriptorSet = buildDescriptorSet(join(__dirname, "fixtures/gatewaytest"), "agora/gatewaytest");
    const service = registryFromDescriptorSet(readFileSync(descriptorSet.path)).getService(
      "agora.gatewaytest.v1.EchoService",
    );
    if (!service) throw new Error("EchoService missing");
    echo = await startGrpcServer((server) =>
      registerDescriptorService(server, service, { Greet: (request) => ({ greeting: `Hello ${request.name}` }) }),
    );
    key = await createSigningKey("rate-key");
    identity = await startGrpcServer((server) => registerJwksStandIn(server, () => [key.published]));
    gateway = await startGateway({
      DESCRIPTOR_SET_PATH: descriptorSet.path,
      DOWNSTREAM_ADDRS: `gatewaytest=${echo.address}`,
      IDENTITY_ADDR: identity.address,
      RATE_LIMIT_MAX: "3",
      RATE_LIMIT_WINDOW_MS: "60000",
    });
  });

  afterAll(async () => {
    await gateway?.started.stop();
    await echo?.stop();
    await identity?.stop();
    descriptorSet?.remove();
  });

  it("answers 429 with Retry-After and a JSON error past the limit, per client, and never limits probes", async () => {
    const greet = (headers: Record<string, string> = {}) => fetch(`${gateway.url}/v1/test/greetings/Ada`, { headers });
    for (let i = 0; i < 3; i++) expect((await greet()).status).toBe(200);
    const limited = await greet();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(limited.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    const body = (await limited.json()) as { error: { code: string; message: string; requestId: string } };
    expect(body.error).toMatchObject({ code: "RESOURCE_EXHAUSTED", requestId: limited.headers.get("x-request-id") });
    expect(body.error.message).toMatch(/rate limit of 3 requests per 60 s exceeded/);

    // An authenticated customer is limited by customer id, not by the shared address.
    const token = await signToken(key, { sub: "customer-rate" });
    for (let i = 0; i < 3; i++) expect((await greet({ authorization: `Bearer ${token}` })).status).toBe(200);
    expect((await greet({ authorization: `Bearer ${token}` })).status).toBe(429);

    for (let i = 0; i < 5; i++) {
      expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${gateway.url}/readyz`)).status).toBe(200);
    }
  });
});
