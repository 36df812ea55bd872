import { join } from "node:path";
import { type Database, eventTablesMigrations, openDatabase } from "@agora/service-kit";
import { createTestDatabase, type TestDatabase } from "@agora/testing";
import { sql } from "drizzle-orm";
import { createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify } from "jose";
import pino from "pino";
import * as schema from "../src/db/schema";
import { retireGraceMs, SigningKeyRing } from "../src/signing-keys";
import { TokenIssuer, tokenAudience, tokenIssuer } from "../src/tokens";

const hour = 3_600_000;
const minute = 60_000;

/** A clock the test moves by hand. */
class TestClock {
  constructor(private current: number) {}
  now = (): Date => new Date(this.current);
  advance(ms: number): void {
    this.current += ms;
  }
}

async function open(url: string): Promise<Database<typeof schema>> {
  return openDatabase({
    url,
    schema,
    migrations: [eventTablesMigrations, { folder: join(__dirname, "../drizzle"), table: "__drizzle_migrations" }],
    logger: pino({ level: "silent" }),
  });
}

describe("signing keys and tokens on a real Postgres database", () => {
  let testDb: TestDatabase;
  let database: Database<typeof schema>;

  beforeAll(async () => {
    testDb = await createTestDatabase("identity_keys");
    database = await open(testDb.url);
  });

  afterAll(async () => {
    await database.close();
    await testDb.drop();
  });

  beforeEach(async () => {
    await database.rows(sql`delete from signing_keys`);
  });

  const ttlMs = 15 * minute;
  const ringAt = (clock: TestClock, db = database) =>
    new SigningKeyRing(db.db, { rotationMs: 24 * hour, tokenTtlMs: ttlMs, publishAheadMs: minute, now: clock.now });
  const kids = async (ring: SigningKeyRing) => (await ring.publishedKeys()).map((key) => key.kid);

  it("creates the first key on demand and keeps signing with it until rotation is due", async () => {
    const clock = new TestClock(Date.parse("2026-11-01T00:00:00Z"));
    const ring = ringAt(clock);
    expect(await ring.publishedKeys()).toEqual([]);
    const first = await ring.signer();
    expect(first.generation).toBe(1);
    const [published] = await ring.publishedKeys();
    expect(published).toEqual({
      kty: "EC",
      kid: first.kid,
      alg: "ES256",
      use: "sig",
      crv: "P-256",
      x: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      y: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    clock.advance(23 * hour);
    expect((await ring.signer()).kid).toBe(first.kid);
    expect(await kids(ring)).toEqual([first.kid]);
  });

  it("publishes the next key ahead, switches at the rotation time, and retires the old one after the last token expired", async () => {
    const start = Date.parse("2026-11-01T00:00:00Z");
    const clock = new TestClock(start);
    const ring = ringAt(clock);
    const first = await ring.signer();

    clock.advance(24 * hour - minute); // rotation due in a minute: the successor is published, not signing yet
    expect((await ring.signer()).kid).toBe(first.kid);
    const published = await kids(ring);
    expect(published).toHaveLength(2);
    const second = published[0] as string;
    expect(published[1]).toBe(first.kid);

    clock.advance(minute); // the successor signs now
    expect((await ring.signer()).kid).toBe(second);
    expect(await kids(ring)).toEqual([second, first.kid]);

    // Tokens of the first key can live until 24 h + TTL; the key stays published until then (+ grace).
    clock.advance(ttlMs + retireGraceMs - 1);
    expect(await kids(ring)).toEqual([second, first.kid]);
    clock.advance(1);
    expect(await kids(ring)).toEqual([second]);

    // The next rotation deletes retired keys, private parts included.
    clock.advance(24 * hour);
    await ring.signer();
    const stored = await database.db.select({ kid: schema.signingKeys.kid }).from(schema.signingKeys);
    expect(stored.map((row) => row.kid)).not.toContain(first.kid);
  });

  it("after a long pause rotates from the moment it notices, still publishing ahead", async () => {
    const clock = new TestClock(Date.parse("2026-11-01T00:00:00Z"));
    const ring = ringAt(clock);
    const first = await ring.signer();
    clock.advance(72 * hour); // nobody logged in for three days
    expect((await ring.signer()).kid).toBe(first.kid);
    clock.advance(minute);
    expect((await ring.signer()).kid).not.toBe(first.kid);
  });

  it("rotates at once on an explicit rotation", async () => {
    const clock = new TestClock(Date.parse("2026-11-01T00:00:00Z"));
    const ring = ringAt(clock);
    const first = await ring.signer();
    const rotated = await ring.rotate();
    expect(rotated.generation).toBe(first.generation + 1);
    expect((await ring.signer()).kid).toBe(rotated.kid);
    expect(await kids(ring)).toEqual([rotated.kid, first.kid]);
  });

  it("lets replicas racing to rotate agree on one new key", async () => {
    const clock = new TestClock(Date.parse("2026-11-01T00:00:00Z"));
    const replicas = await Promise.all([open(testDb.url), open(testDb.url), open(testDb.url)]);
    try {
      const first = await ringAt(clock, replicas[0]).signer();
      clock.advance(24 * hour);
      const rings = replicas.flatMap((replica) => [ringAt(clock, replica), ringAt(clock, replica)]);
      await Promise.all(rings.map((ring) => ring.signer())); // all see the rotation due at once
      clock.advance(minute); // the successor, published a minute ahead, signs now
      const signers = await Promise.all(rings.map((ring) => ring.signer()));
      expect(new Set(signers.map((signer) => signer.kid)).size).toBe(1);
      expect(signers[0]?.kid).not.toBe(first.kid);
      const generations = await database.db
        .select({ generation: schema.signingKeys.generation })
        .from(schema.signingKeys);
      expect(generations.map((row) => row.generation).sort()).toEqual([1, 2]);
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
    }
  });

  it("issues ES256 tokens with the agreed claims that verify against the published keys", async () => {
    const clock = new TestClock(Date.now());
    const ring = ringAt(clock);
    const issuer = new TokenIssuer(ring, { ttlSeconds: 900, now: clock.now });
    const customerId = "0b6e1c1e-5d1b-4c55-9d3f-2c1e0f0a9b11";
    const issued = await issuer.issue({ customerId, email: "ada@example.com", roles: ["customer"] });
    const header = decodeProtectedHeader(issued.token);
    expect(header).toEqual({ alg: "ES256", kid: issued.kid, typ: "JWT" });
    const jwks = createLocalJWKSet({ keys: await ring.publishedKeys() });
    const { payload } = await jwtVerify(issued.token, jwks, {
      issuer: tokenIssuer,
      audience: tokenAudience,
      algorithms: ["ES256"],
      currentDate: clock.now(),
    });
    expect(payload).toEqual({
      iss: "agora-identity",
      aud: "agora",
      sub: customerId,
      iat: Math.floor(clock.now().getTime() / 1000),
      exp: Math.floor(clock.now().getTime() / 1000) + 900,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/),
      email: "ada@example.com",
      roles: ["customer"],
    });
    expect(issued.expiresAt.getTime()).toBe((payload.exp as number) * 1000);

    // A token signed by the previous key still verifies after a rotation, until it expires.
    await ring.rotate();
    const after = createLocalJWKSet({ keys: await ring.publishedKeys() });
    await expect(jwtVerify(issued.token, after, { currentDate: clock.now() })).resolves.toBeDefined();
    const later = new Date(clock.now().getTime() + 901_000);
    await expect(jwtVerify(issued.token, after, { currentDate: later })).rejects.toBeInstanceOf(joseErrors.JWTExpired);
  });
});
