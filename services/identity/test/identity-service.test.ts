import { join } from "node:path";
import { Writable } from "node:stream";
import { CustomerRegisteredEvent } from "@agora/contracts";
import { IdentityServiceService } from "@agora/contracts/agora/identity/v1/identity_service";
import {
  createClient,
  type Database,
  eventTablesMigrations,
  openDatabase,
  type PromiseClient,
  type RunningService,
} from "@agora/service-kit";
import { createTestDatabase, EventProbe, startTestNats, type TestDatabase, type TestNats } from "@agora/testing";
import * as grpc from "@grpc/grpc-js";
import { eq } from "drizzle-orm";
import { createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify } from "jose";
import pino from "pino";
import { loginFailedMessage } from "../src/accounts";
import * as schema from "../src/db/schema";
import { identityService } from "../src/main";
import { SigningKeyRing } from "../src/signing-keys";

const tokenTtlSeconds = 3;

/** Every log line the service writes, to check that no password ever shows up. */
class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
    done();
  }
}

describe("identity service on a real Postgres database and NATS", () => {
  let database: TestDatabase;
  let nats: TestNats;
  let running: RunningService<unknown, Record<string, unknown>>;
  let identity: PromiseClient<typeof IdentityServiceService>;
  let events: EventProbe;
  const logs = new LogCapture();
  /** Every password a test sends; none may appear in the logs. */
  const passwords = new Set<string>();
  const secret = (password: string) => {
    passwords.add(password);
    return password;
  };

  beforeAll(async () => {
    database = await createTestDatabase("identity");
    nats = await startTestNats();
    running = (await identityService.start({
      env: {
        DATABASE_URL: database.url,
        NATS_URL: nats.url,
        NATS_SUBJECT_PREFIX: nats.subjectPrefix,
        GRPC_HOST: "127.0.0.1",
        GRPC_PORT: "0",
        METRICS_PORT: "0",
        LOG_LEVEL: "trace",
        LOG_FORMAT: "json",
        OUTBOX_POLL_INTERVAL_MS: "100",
        ACCESS_TOKEN_TTL_SECONDS: String(tokenTtlSeconds),
        ADMIN_EMAILS: "Boss@Example.com, ops@example.com",
      },
      logDestination: logs,
    })) as RunningService<unknown, Record<string, unknown>>;
    identity = createClient(IdentityServiceService, running.address, {
      downstream: "identity",
      logger: pino({ level: "silent" }),
      policies: { maxAttempts: 1, breaker: false },
    });
    events = await EventProbe.connect(nats.url, nats.subjectPrefix);
  });

  afterAll(async () => {
    identity.close();
    await events.close();
    await running.stop();
    await database.drop();
    await nats.close();
  });

  async function register(email: string, password = "correct horse battery", displayName = "Ada Lovelace") {
    const response = await identity.registerCustomer({ email, password: secret(password), displayName });
    if (!response.customer) throw new Error("no customer in the response");
    return response.customer;
  }

  async function jwks() {
    return createLocalJWKSet({ keys: (await identity.getJwks({})).keys });
  }

  async function verify(token: string) {
    return jwtVerify(token, await jwks(), { issuer: "agora-identity", audience: "agora", algorithms: ["ES256"] });
  }

  it("registers a customer with a lower-cased email and publishes customer_registered", async () => {
    const customer = await register("  Ada@Example.COM ");
    expect(customer).toEqual({
      customerId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      email: "ada@example.com",
      displayName: "Ada Lovelace",
      createTime: expect.any(Date),
    });
    const published = await events.waitFor(CustomerRegisteredEvent, (found) =>
      found.some((event) => event.event.aggregateId === customer.customerId),
    );
    const event = published.find((found) => found.event.aggregateId === customer.customerId);
    expect(event?.payload.customer).toEqual(customer);
    expect(event?.event).toMatchObject({ aggregateType: "customer", aggregateVersion: 1, producer: "identity" });
    expect(JSON.stringify(event?.payload)).not.toContain("correct horse");
  });

  it("stores only a self-describing scrypt hash of the password", async () => {
    const customer = await register("grace@example.com", "Grace's long passphrase");
    const inspect = await openDatabase({
      url: database.url,
      schema,
      migrations: [],
      logger: pino({ level: "silent" }),
    });
    try {
      const [row] = await inspect.db
        .select()
        .from(schema.customers)
        .where(eq(schema.customers.customerId, customer.customerId));
      expect(row?.passwordHash).toMatch(/^\$scrypt\$ln=15,r=8,p=3\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
      expect(row?.passwordHash).not.toContain("passphrase");
    } finally {
      await inspect.close();
    }
  });

  it("refuses a second registration with the same email in any case: ALREADY_EXISTS", async () => {
    await register("linus@example.com");
    await expect(
      identity.registerCustomer({
        email: "LINUS@example.com",
        password: secret("another password!"),
        displayName: "L",
      }),
    ).rejects.toMatchObject({
      code: grpc.status.ALREADY_EXISTS,
      details: expect.stringContaining("linus@example.com"),
    });
  });

  it.each([
    [{ email: "not-an-email" }, "email"],
    [{ email: "" }, "email"],
    [{ password: "too-short" }, "password"],
    [{ password: "x".repeat(201) }, "password"],
    [{ displayName: "" }, "display_name"],
  ])("refuses invalid registration input %j with INVALID_ARGUMENT naming the field", async (override, field) => {
    const request = { email: "valid@example.com", password: "a valid password", displayName: "Val", ...override };
    secret(request.password);
    await expect(identity.registerCustomer(request)).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(new RegExp(`^${field}: `)),
    });
  });

  it("logs in with a signed ES256 JWT whose claims verify against GetJwks", async () => {
    const customer = await register("hopper@example.com", "Amazing Grace Hopper");
    const before = Math.floor(Date.now() / 1000);
    const response = await identity.login({ email: "HOPPER@example.com", password: secret("Amazing Grace Hopper") });
    expect(response.tokenType).toBe("Bearer");
    expect(response.customer).toEqual(customer);
    const header = decodeProtectedHeader(response.accessToken);
    expect(header.alg).toBe("ES256");
    const { keys } = await identity.getJwks({});
    expect(keys.map((key) => key.kid)).toContain(header.kid);
    const { payload } = await verify(response.accessToken);
    expect(payload).toMatchObject({
      iss: "agora-identity",
      aud: "agora",
      sub: customer.customerId,
      email: "hopper@example.com",
      roles: ["customer"],
    });
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect((payload.exp as number) - (payload.iat as number)).toBe(tokenTtlSeconds);
    expect(response.expireTime?.getTime()).toBe((payload.exp as number) * 1000);
  });

  it("gives the admin role to emails listed in ADMIN_EMAILS", async () => {
    await register("boss@example.com", "the boss password");
    const { accessToken } = await identity.login({ email: "boss@example.com", password: secret("the boss password") });
    const { payload } = await verify(accessToken);
    expect(payload.roles).toEqual(["customer", "admin"]);
  });

  it("answers a wrong password and an unknown email alike: UNAUTHENTICATED, same message, similar time", async () => {
    await register("turing@example.com", "Enigma machine 1939");
    const attempt = async (email: string, password: string) => {
      const started = performance.now();
      const error = await identity.login({ email, password: secret(password) }).then(
        () => undefined,
        (failure: grpc.ServiceError) => failure,
      );
      return { error, ms: performance.now() - started };
    };
    const wrongPassword = await attempt("turing@example.com", "Enigma machine 1940");
    const unknownEmail = await attempt("nobody@example.com", "Enigma machine 1939");
    for (const { error } of [wrongPassword, unknownEmail]) {
      expect(error?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(error?.details).toBe(loginFailedMessage);
    }
    // Both spent a scrypt verification (a lookup alone takes a few milliseconds).
    const secondUnknown = await attempt("nobody-else@example.com", "whatever it is");
    const wrongAgain = await attempt("turing@example.com", "Enigma machine 1941");
    const unknownMs = Math.min(unknownEmail.ms, secondUnknown.ms);
    const wrongMs = Math.min(wrongPassword.ms, wrongAgain.ms);
    expect(unknownMs).toBeGreaterThan(wrongMs * 0.4);
  });

  it("returns a customer to services, and to the customer themself, but NOT_FOUND to anyone else", async () => {
    const ada = await register("ada.byron@example.com");
    const other = await register("charles@example.com");
    await expect(identity.getCustomer({ customerId: ada.customerId })).resolves.toEqual({ customer: ada });
    await expect(
      identity.getCustomer({ customerId: ada.customerId }, { metadata: { "x-agora-customer-id": ada.customerId } }),
    ).resolves.toEqual({ customer: ada });
    const refused = identity.getCustomer(
      { customerId: ada.customerId },
      { metadata: { "x-agora-customer-id": other.customerId } },
    );
    await expect(refused).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(identity.getCustomer({ customerId: "0b6e1c1e-5d1b-4c55-9d3f-2c1e0f0a9b11" })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
    await expect(identity.getCustomer({ customerId: "ada" })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringMatching(/^customer_id: /),
    });
  });

  it("after a key rotation signs with the new kid and keeps verifying older tokens until they expire", async () => {
    await register("rotation@example.com", "rotate the keys!");
    const credentials = { email: "rotation@example.com", password: secret("rotate the keys!") };
    const old = await identity.login(credentials);
    const oldKid = decodeProtectedHeader(old.accessToken).kid;

    // Another replica (or an operator) rotates through the shared database.
    const replica: Database<typeof schema> = await openDatabase({
      url: database.url,
      schema,
      migrations: [eventTablesMigrations, { folder: join(__dirname, "../drizzle"), table: "__drizzle_migrations" }],
      logger: pino({ level: "silent" }),
    });
    try {
      const rotated = await new SigningKeyRing(replica.db, {
        rotationMs: 24 * 3_600_000,
        tokenTtlMs: tokenTtlSeconds * 1000,
      }).rotate();
      expect(rotated.kid).not.toBe(oldKid);

      const fresh = await identity.login(credentials);
      expect(decodeProtectedHeader(fresh.accessToken).kid).toBe(rotated.kid);
      const published = (await identity.getJwks({})).keys.map((key) => key.kid);
      expect(published).toEqual(expect.arrayContaining([oldKid, rotated.kid]));
      await expect(verify(old.accessToken)).resolves.toBeDefined();
      await expect(verify(fresh.accessToken)).resolves.toBeDefined();

      // The old token expires on its own schedule (its key is still published meanwhile).
      const wait = (old.expireTime?.getTime() ?? 0) - Date.now() + 1100;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, wait)));
      expect((await identity.getJwks({})).keys.map((key) => key.kid)).toContain(oldKid);
      await expect(verify(old.accessToken)).rejects.toBeInstanceOf(joseErrors.JWTExpired);
    } finally {
      await replica.close();
    }
  }, 20_000);

  it("never writes a password to the log, at trace level, whatever happened", async () => {
    await running.stop(); // flushes the log
    expect(logs.lines.length).toBeGreaterThan(5);
    expect(logs.lines.some((line) => line.includes("/agora.identity.v1.IdentityService/Login"))).toBe(true);
    expect(passwords.size).toBeGreaterThan(10);
    for (const password of passwords) {
      const leaking = logs.lines.filter((line) => line.includes(password));
      expect({ password, leaking }).toEqual({ password, leaking: [] });
    }
  });
});
