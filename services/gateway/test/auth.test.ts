import pino from "pino";
import {
  AccessTokenVerifier,
  authenticate,
  authorize,
  bearerTokenOf,
  JwksKeyStore,
  KeysUnavailableError,
  type PublishedKey,
} from "../src/auth";
import { HttpError } from "../src/http-errors";
import { createSigningKey, type SigningKey, signToken } from "./support/tokens";

const logger = pino({ level: "silent" });

describe("access tokens", () => {
  let current: SigningKey;
  let other: SigningKey;
  let published: PublishedKey[];
  let fetches: number;
  let identityDown: boolean;
  let clock: number;
  let store: JwksKeyStore;
  let verifier: AccessTokenVerifier;

  beforeAll(async () => {
    current = await createSigningKey("key-2026-11");
    other = await createSigningKey("key-2026-11");
  });

  beforeEach(() => {
    published = [current.published];
    fetches = 0;
    identityDown = false;
    clock = 1_000_000;
    store = new JwksKeyStore({
      logger,
      now: () => clock,
      minRefreshIntervalMs: 10_000,
      maxAgeMs: 300_000,
      fetchKeys: async () => {
        fetches++;
        if (identityDown) throw new Error("14 UNAVAILABLE: identity is down");
        return published;
      },
    });
    verifier = new AccessTokenVerifier(store);
  });

  it("accepts a valid token and returns its subject, roles and email", async () => {
    const token = await signToken(current, {
      sub: "6f1c9a52-0000-4000-8000-000000000001",
      roles: ["customer", "admin"],
    });
    await expect(verifier.verify(token)).resolves.toEqual({
      customerId: "6f1c9a52-0000-4000-8000-000000000001",
      roles: ["customer", "admin"],
      email: "6f1c9a52-0000-4000-8000-000000000001@example.com",
    });
    expect(fetches).toBe(1);
  });

  it.each([
    ["expired", { expiresInSeconds: -60 }, "token expired"],
    ["from another issuer", { iss: "someone-else" }, "token claim iss is not valid"],
    ["for another audience", { aud: "elsewhere" }, "token claim aud is not valid"],
  ])("rejects a token %s", async (_name, claims, reason) => {
    const token = await signToken(current, { sub: "c1", ...claims });
    await expect(verifier.verify(token)).rejects.toMatchObject({ reason: expect.stringContaining(reason) });
  });

  it("rejects a forged token: right kid, other key", async () => {
    const token = await signToken(other, { sub: "c1" });
    await expect(verifier.verify(token)).rejects.toMatchObject({ reason: "bad token signature" });
  });

  it("rejects garbage, a token without kid and a token with another algorithm", async () => {
    await expect(verifier.verify("not.a.jwt")).rejects.toMatchObject({ reason: "malformed token" });
    const header = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
    const body = header({ sub: "c1", iss: "agora-identity", aud: "agora", exp: 2e9, iat: 1 });
    await expect(verifier.verify(`${header({ alg: "ES256" })}.${body}.c2ln`)).rejects.toMatchObject({
      reason: "token has no key id (kid)",
    });
    await expect(verifier.verify(`${header({ alg: "HS256", kid: current.kid })}.${body}.c2ln`)).rejects.toMatchObject({
      reason: "token must be signed with ES256",
    });
  });

  it("refreshes the keys for an unknown kid, at most once per interval", async () => {
    const rotated = await createSigningKey("key-2026-12");
    await verifier.verify(await signToken(current, { sub: "c1" }));
    expect(fetches).toBe(1);

    // A token from a key identity does not know: one refresh, then 401 reasons without more fetches.
    const unknown = await signToken(rotated, { sub: "c1" });
    clock += 11_000;
    await expect(verifier.verify(unknown)).rejects.toMatchObject({ reason: "token signed with an unknown key" });
    expect(fetches).toBe(2);
    for (let i = 0; i < 5; i++) await expect(verifier.verify(unknown)).rejects.toBeDefined();
    expect(fetches).toBe(2);

    // Identity rotates: once the interval has passed, the new kid is fetched and accepted.
    published = [current.published, rotated.published];
    clock += 10_001;
    await expect(verifier.verify(unknown)).resolves.toMatchObject({ customerId: "c1" });
    expect(fetches).toBe(3);
    expect(store.knownKeyIds().sort()).toEqual(["key-2026-11", "key-2026-12"]);
  });

  it("keeps verifying with cached keys while identity is down, and says so for unknown kids", async () => {
    await verifier.verify(await signToken(current, { sub: "c1" }));
    identityDown = true;
    clock += 400_000; // stale: a background refresh is attempted and fails
    await expect(verifier.verify(await signToken(current, { sub: "c2" }))).resolves.toMatchObject({ customerId: "c2" });
    const rotated = await createSigningKey("key-new");
    clock += 11_000;
    await expect(verifier.verify(await signToken(rotated, { sub: "c1" }))).rejects.toBeInstanceOf(KeysUnavailableError);
  });

  it("retries soon after a failed fetch, so a gateway started before identity is not stuck for the full interval", async () => {
    identityDown = true;
    await store.refresh(true);
    const token = await signToken(current, { sub: "c1" });
    await expect(verifier.verify(token)).rejects.toBeInstanceOf(KeysUnavailableError);
    expect(fetches).toBe(1); // within 1 s of the failure: no new fetch
    identityDown = false;
    clock += 1_001;
    await expect(verifier.verify(token)).resolves.toMatchObject({ customerId: "c1" });
    expect(fetches).toBe(2);
  });

  it("reads Authorization headers", () => {
    expect(bearerTokenOf(undefined)).toBeUndefined();
    expect(bearerTokenOf("Bearer abc.def.ghi")).toBe("abc.def.ghi");
    expect(bearerTokenOf("bearer abc.def.ghi")).toBe("abc.def.ghi");
    expect(bearerTokenOf("Basic dXNlcjpwYXNz")).toBe("");
    expect(bearerTokenOf("Bearer")).toBe("");
  });

  it("authorizes by access level: 401 with WWW-Authenticate, 403 without the admin role", async () => {
    const customer = await authenticate(verifier, `Bearer ${await signToken(current, { sub: "c1" })}`);
    const admin = await authenticate(
      verifier,
      `Bearer ${await signToken(current, { sub: "a1", roles: ["customer", "admin"] })}`,
    );
    const anonymous = await authenticate(verifier, undefined);
    const expired = await authenticate(
      verifier,
      `Bearer ${await signToken(current, { sub: "c1", expiresInSeconds: -60 })}`,
    );

    expect(authorize("public", anonymous)).toBeUndefined();
    expect(authorize("public", customer)).toMatchObject({ customerId: "c1" });
    expect(authorize("public", expired)).toBeUndefined();
    expect(authorize("customer", customer)).toMatchObject({ customerId: "c1" });
    expect(authorize("admin", admin)).toMatchObject({ customerId: "a1" });

    const failure = (run: () => unknown): HttpError => {
      try {
        run();
      } catch (error) {
        if (error instanceof HttpError) return error;
      }
      throw new Error("expected an HttpError");
    };
    expect(failure(() => authorize("customer", anonymous))).toMatchObject({
      status: 401,
      code: "UNAUTHENTICATED",
      headers: { "www-authenticate": 'Bearer realm="agora"' },
    });
    expect(failure(() => authorize("customer", expired)).headers["www-authenticate"]).toContain(
      'error="invalid_token"',
    );
    expect(failure(() => authorize("admin", anonymous)).status).toBe(401);
    expect(failure(() => authorize("admin", customer))).toMatchObject({ status: 403, code: "PERMISSION_DENIED" });
    expect(failure(() => authorize("customer", { kind: "unavailable", reason: "keys unavailable" })).status).toBe(503);
  });
});
