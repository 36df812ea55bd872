import { decodeProtectedHeader, importJWK, type JWK, errors as joseErrors, jwtVerify } from "jose";
import type { Logger } from "pino";
import { HttpError } from "./http-errors";
import type { Access } from "./route-table";

/** Issuer (`iss`) of Agora access tokens. */
export const tokenIssuer = "agora-identity";
/** Audience (`aud`) of Agora access tokens. */
export const tokenAudience = "agora";
/** The only signature algorithm accepted. */
export const tokenAlgorithm = "ES256";
/** The role that unlocks ACCESS_ADMIN routes. */
export const adminRole = "admin";

/** A public key ready for signature checks. */
type VerificationKey = Awaited<ReturnType<typeof importJWK>>;

/** The caller an access token vouches for. */
export interface Principal {
  /** The token's `sub`: the customer id. */
  readonly customerId: string;
  /** The token's `roles` ("customer", "admin"). */
  readonly roles: readonly string[];
  /** The token's `email`, when present. */
  readonly email?: string;
}

/** A public key as the identity service publishes it (agora.identity.v1.JsonWebKey). */
export interface PublishedKey {
  kty: string;
  kid: string;
  alg: string;
  use: string;
  crv: string;
  x: string;
  y: string;
}

/** Why a token was refused; `reason` is safe to show to the caller. */
export class TokenRejectedError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = "TokenRejectedError";
  }
}

/** The verification keys could not be obtained (identity unreachable and the key not cached). */
export class KeysUnavailableError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "KeysUnavailableError";
  }
}

/** Options of {@link JwksKeyStore}. */
export interface JwksKeyStoreOptions {
  /** Fetches the current JWKS (identity's GetJwks). */
  fetchKeys(): Promise<PublishedKey[]>;
  logger: Logger;
  /**
   * At most one refresh per this interval, however many unknown `kid`s arrive (1 s at most after a
   * failed fetch). Default 10 s.
   */
  minRefreshIntervalMs?: number;
  /** Keys older than this are refreshed in the background when used. Default 5 min. */
  maxAgeMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * The token-verification keys, fetched from identity and cached by `kid`. An unknown `kid` triggers
 * a refresh (rate-limited), stale keys are refreshed in the background, and when identity cannot be
 * reached the cached keys keep working.
 */
export class JwksKeyStore {
  private keys = new Map<string, VerificationKey>();
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private loadedAt = Number.NEGATIVE_INFINITY;
  private lastFailure: string | undefined;
  private inFlight: Promise<void> | undefined;
  private readonly minRefreshIntervalMs: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;

  constructor(private readonly options: JwksKeyStoreOptions) {
    this.minRefreshIntervalMs = options.minRefreshIntervalMs ?? 10_000;
    this.maxAgeMs = options.maxAgeMs ?? 300_000;
    this.now = options.now ?? Date.now;
  }

  /** Key ids currently cached. */
  knownKeyIds(): string[] {
    return [...this.keys.keys()];
  }

  /** Fetches the keys now unless a fetch ran within the minimum interval; never throws. */
  refresh(force = false): Promise<void> {
    if (this.inFlight) return this.inFlight;
    // After a failed fetch (identity starting or down) try again sooner than after a successful one.
    const interval =
      this.lastFailure === undefined ? this.minRefreshIntervalMs : Math.min(1_000, this.minRefreshIntervalMs);
    if (!force && this.now() - this.lastAttemptAt < interval) return Promise.resolve();
    this.lastAttemptAt = this.now();
    this.inFlight = this.load().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async load(): Promise<void> {
    try {
      const published = await this.options.fetchKeys();
      const next = new Map<string, VerificationKey>();
      for (const key of published) {
        if (key.kty !== "EC" || key.crv !== "P-256" || (key.alg !== "" && key.alg !== tokenAlgorithm) || !key.kid) {
          this.options.logger.warn(
            { kid: key.kid, kty: key.kty, crv: key.crv, alg: key.alg },
            "ignoring a JWKS key that is not ES256",
          );
          continue;
        }
        const jwk: JWK = { kty: "EC", crv: "P-256", x: key.x, y: key.y, kid: key.kid, alg: tokenAlgorithm };
        next.set(key.kid, await importJWK(jwk, tokenAlgorithm));
      }
      this.keys = next;
      this.loadedAt = this.now();
      this.lastFailure = undefined;
      this.options.logger.debug({ kids: [...next.keys()] }, "token keys loaded");
    } catch (error) {
      this.lastFailure = error instanceof Error ? error.message : String(error);
      this.options.logger.warn(
        { error: this.lastFailure, cached_kids: [...this.keys.keys()] },
        "could not fetch token keys from identity; keeping the cached ones",
      );
    }
  }

  /**
   * The key with this id: from the cache, else after a refresh. Undefined when identity does not know
   * it; throws {@link KeysUnavailableError} when it is unknown and identity could not be asked.
   */
  async keyFor(kid: string): Promise<VerificationKey | undefined> {
    if (this.now() - this.loadedAt > this.maxAgeMs) void this.refresh();
    const cached = this.keys.get(kid);
    if (cached) return cached;
    await this.refresh();
    const found = this.keys.get(kid);
    if (!found && this.lastFailure !== undefined) {
      throw new KeysUnavailableError(`cannot verify the token now: token keys are unavailable (${this.lastFailure})`);
    }
    return found;
  }
}

/** Verifies Agora access tokens: ES256, known `kid`, issuer, audience, expiry, subject. */
export class AccessTokenVerifier {
  constructor(
    private readonly keys: JwksKeyStore,
    private readonly clockToleranceSeconds = 5,
  ) {}

  /** The principal of a valid token; throws {@link TokenRejectedError} or {@link KeysUnavailableError}. */
  async verify(token: string): Promise<Principal> {
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg !== tokenAlgorithm) throw new TokenRejectedError(`token must be signed with ${tokenAlgorithm}`);
      kid = header.kid;
    } catch (error) {
      if (error instanceof TokenRejectedError) throw error;
      throw new TokenRejectedError("malformed token");
    }
    if (!kid) throw new TokenRejectedError("token has no key id (kid)");
    const key = await this.keys.keyFor(kid);
    if (!key) throw new TokenRejectedError("token signed with an unknown key");
    try {
      const { payload } = await jwtVerify(token, key, {
        issuer: tokenIssuer,
        audience: tokenAudience,
        algorithms: [tokenAlgorithm],
        requiredClaims: ["sub", "exp", "iat"],
        clockTolerance: this.clockToleranceSeconds,
      });
      const subject = payload.sub ?? "";
      if (!/^[A-Za-z0-9._:@-]{1,200}$/.test(subject))
        throw new TokenRejectedError("token subject is not a customer id");
      const roles = payload.roles === undefined ? [] : payload.roles;
      if (!Array.isArray(roles) || !roles.every((role) => typeof role === "string" && /^[A-Za-z0-9_-]+$/.test(role))) {
        throw new TokenRejectedError("token roles must be a list of role names");
      }
      return {
        customerId: subject,
        roles,
        ...(typeof payload.email === "string" ? { email: payload.email } : {}),
      };
    } catch (error) {
      if (error instanceof TokenRejectedError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new TokenRejectedError("token expired");
      if (error instanceof joseErrors.JWSSignatureVerificationFailed)
        throw new TokenRejectedError("bad token signature");
      if (error instanceof joseErrors.JWTClaimValidationFailed) {
        throw new TokenRejectedError(`token claim ${error.claim} is not valid (${error.reason})`);
      }
      throw new TokenRejectedError("malformed token");
    }
  }
}

/** What authentication found out about a request. */
export type Authentication =
  | { kind: "anonymous" }
  | { kind: "authenticated"; principal: Principal }
  | { kind: "rejected"; reason: string }
  | { kind: "unavailable"; reason: string };

/**
 * The bearer token of an Authorization header: undefined when there is none, "" when the header is
 * present but not `Bearer <token>`.
 */
export function bearerTokenOf(header: string | undefined): string | undefined {
  if (header === undefined || header === "") return undefined;
  const match = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
  return match?.[1] ?? "";
}

/** Authenticates a request's Authorization header. Never throws. */
export async function authenticate(verifier: AccessTokenVerifier, header: string | undefined): Promise<Authentication> {
  const token = bearerTokenOf(header);
  if (token === undefined) return { kind: "anonymous" };
  if (token === "") return { kind: "rejected", reason: 'Authorization header must be "Bearer <token>"' };
  try {
    return { kind: "authenticated", principal: await verifier.verify(token) };
  } catch (error) {
    if (error instanceof KeysUnavailableError) return { kind: "unavailable", reason: error.message };
    if (error instanceof TokenRejectedError) return { kind: "rejected", reason: error.reason };
    return { kind: "rejected", reason: "malformed token" };
  }
}

function unauthorized(message: string, error?: string): HttpError {
  const challenge = error
    ? `Bearer realm="agora", error="${error}", error_description="${message.replaceAll('"', "'")}"`
    : 'Bearer realm="agora"';
  return new HttpError(401, "UNAUTHENTICATED", message, { "www-authenticate": challenge });
}

/**
 * The principal allowed to call a route of `access`, or the 401/403/503 to answer. Public routes let
 * anyone through and pass the customer along when the token is valid (an invalid token on a public
 * route is ignored: the caller is treated as anonymous).
 */
export function authorize(access: Access, authentication: Authentication): Principal | undefined {
  if (access === "public") return authentication.kind === "authenticated" ? authentication.principal : undefined;
  switch (authentication.kind) {
    case "anonymous":
      throw unauthorized("this route needs an access token: send Authorization: Bearer <token> (POST /v1/sessions)");
    case "rejected":
      throw unauthorized(authentication.reason, "invalid_token");
    case "unavailable":
      throw new HttpError(503, "UNAVAILABLE", authentication.reason, { "retry-after": "5" });
    case "authenticated":
      if (access === "admin" && !authentication.principal.roles.includes(adminRole)) {
        throw new HttpError(403, "PERMISSION_DENIED", "this route is for administrators (role admin)");
      }
      return authentication.principal;
  }
}
