import type { JsonWebKey } from "@agora/contracts/agora/identity/v1/customer";
import type { Db } from "@agora/service-kit";
import { and, desc, isNull, lt, lte } from "drizzle-orm";
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from "jose";
import { type SigningKeyRow, type StoredJwk, signingKeys } from "./db/schema";

type Schema = { signingKeys: typeof signingKeys };

/** The only token signature algorithm: ECDSA with P-256 and SHA-256. */
export const tokenAlgorithm = "ES256";

/**
 * How long a superseded key stays published beyond the last possible expiry of its tokens: covers a
 * login that read the old key just before the switch, and small clock differences between replicas
 * and verifiers (the gateway itself tolerates 5 s).
 */
export const retireGraceMs = 60_000;

/** Settings of a {@link SigningKeyRing}. */
export interface SigningKeyRingOptions {
  /** A key signs for this long before the next one takes over (SIGNING_KEY_ROTATION_HOURS). */
  rotationMs: number;
  /** Lifetime of the tokens (ACCESS_TOKEN_TTL_SECONDS): how long a superseded key must stay published. */
  tokenTtlMs: number;
  /**
   * The next key is published this long before it starts signing, so verifiers that cache the JWKS
   * (the gateway refreshes at most every 10 s) know it before the first token carries its kid.
   * Capped at half the rotation period. Default 60 s.
   */
  publishAheadMs?: number;
  /** Clock, for tests. */
  now?: () => Date;
}

/** The key that signs now. */
export interface ActiveSigningKey {
  readonly kid: string;
  readonly generation: number;
  readonly privateKey: CryptoKey;
}

/**
 * The token-signing keys, kept in the service's database so every replica agrees on them.
 *
 * - The signer is the newest key whose activation time has passed.
 * - When the signer is due to rotate (SIGNING_KEY_ROTATION_HOURS after its activation, minus the
 *   publish-ahead time), the next generation is inserted, published at once and activated at the
 *   rotation time. Replicas racing to do so insert the same generation number; the unique constraint
 *   lets exactly one win and the others read the winner's key.
 * - When a successor is inserted, its predecessors get `retire_at` = successor activation + token
 *   lifetime + {@link retireGraceMs}: until then they stay in the JWKS, so tokens they signed keep
 *   verifying until they expire; afterwards they are deleted, private key included.
 */
export class SigningKeyRing {
  private readonly imported = new Map<string, Promise<CryptoKey>>();
  private readonly now: () => Date;
  private readonly publishAheadMs: number;

  constructor(
    private readonly db: Db<Schema>,
    private readonly options: SigningKeyRingOptions,
  ) {
    if (!(options.rotationMs > 0)) throw new Error("rotationMs must be positive");
    this.now = options.now ?? (() => new Date());
    this.publishAheadMs = Math.min(options.publishAheadMs ?? 60_000, Math.floor(options.rotationMs / 2));
  }

  /** Every stored key, newest generation first (a handful: active, pending, not yet retired). */
  private all(): Promise<SigningKeyRow[]> {
    return this.db.select().from(signingKeys).orderBy(desc(signingKeys.generation));
  }

  /** The key to sign with now, rotating first when the current one is due (or there is none). */
  async signer(): Promise<ActiveSigningKey> {
    const now = this.now();
    let rows = await this.all();
    let active = rows.find((row) => row.activatesAt <= now && (row.retireAt === null || row.retireAt > now));
    const newest = rows[0];
    if (!active || !newest) {
      await this.insertNext(newest?.generation ?? 0, now);
      rows = await this.all();
      active = rows.find((row) => row.activatesAt <= now);
    } else if (
      newest.generation === active.generation &&
      now.getTime() >= active.activatesAt.getTime() + this.options.rotationMs - this.publishAheadMs
    ) {
      const due = active.activatesAt.getTime() + this.options.rotationMs;
      await this.insertNext(newest.generation, new Date(Math.max(due, now.getTime() + this.publishAheadMs)));
    }
    if (!active) throw new Error("no active signing key after creating one");
    return { kid: active.kid, generation: active.generation, privateKey: await this.privateKeyOf(active) };
  }

  /**
   * Rotates now: a new key that signs from `activatesAt` (default: at once). For operators and
   * tests; scheduled rotation happens by itself in {@link signer}. Returns the new key's row (or,
   * when another replica rotated at the same moment, the newest key).
   */
  async rotate(activatesAt: Date = this.now()): Promise<SigningKeyRow> {
    const [newest] = await this.all();
    await this.insertNext(newest?.generation ?? 0, activatesAt);
    const [after] = await this.all();
    if (!after) throw new Error("no signing key after rotation");
    return after;
  }

  /**
   * The keys verifiers must know: the signer, a pre-published successor, and superseded keys whose
   * tokens may not have expired yet. Newest first, as agora.identity.v1.JsonWebKey.
   */
  async publishedKeys(): Promise<JsonWebKey[]> {
    const now = this.now();
    const rows = (await this.all()).filter((row) => row.retireAt === null || row.retireAt > now);
    return rows.map((row) => ({
      kty: row.publicJwk.kty,
      kid: row.kid,
      alg: row.algorithm,
      use: "sig",
      crv: row.publicJwk.crv,
      x: row.publicJwk.x,
      y: row.publicJwk.y,
    }));
  }

  /**
   * Inserts generation `after + 1`, activating at `activatesAt`, retires its predecessors and
   * deletes keys already retired — all in one transaction. Does nothing when that generation exists
   * (another replica got there first).
   */
  private async insertNext(after: number, activatesAt: Date): Promise<void> {
    const now = this.now();
    const { publicKey, privateKey } = await generateKeyPair(tokenAlgorithm, { extractable: true });
    const publicJwk = (await exportJWK(publicKey)) as StoredJwk;
    const privateJwk = (await exportJWK(privateKey)) as StoredJwk;
    const kid = await calculateJwkThumbprint({
      kty: publicJwk.kty,
      crv: publicJwk.crv,
      x: publicJwk.x,
      y: publicJwk.y,
    });
    const generation = after + 1;
    await this.db.transaction(async (tx) => {
      const inserted = await tx
        .insert(signingKeys)
        .values({ kid, generation, algorithm: tokenAlgorithm, publicJwk, privateJwk, createdAt: now, activatesAt })
        .onConflictDoNothing({ target: signingKeys.generation })
        .returning({ kid: signingKeys.kid });
      if (inserted.length === 0) return;
      const retireAt = new Date(activatesAt.getTime() + this.options.tokenTtlMs + retireGraceMs);
      await tx
        .update(signingKeys)
        .set({ retireAt })
        .where(and(isNull(signingKeys.retireAt), lt(signingKeys.generation, generation)));
      await tx.delete(signingKeys).where(lte(signingKeys.retireAt, now));
    });
  }

  private privateKeyOf(row: SigningKeyRow): Promise<CryptoKey> {
    let key = this.imported.get(row.kid);
    if (!key) {
      key = importJWK({ ...row.privateJwk, alg: tokenAlgorithm }, tokenAlgorithm) as Promise<CryptoKey>;
      this.imported.set(row.kid, key);
    }
    return key;
  }
}
