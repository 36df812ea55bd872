import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { type SigningKeyRing, tokenAlgorithm } from "./signing-keys";

/** `iss` of every access token; the gateway checks it. */
export const tokenIssuer = "agora-identity";
/** `aud` of every access token; the gateway checks it. */
export const tokenAudience = "agora";

/** Who a token is for. */
export interface TokenSubject {
  readonly customerId: string;
  readonly email: string;
  readonly roles: readonly string[];
}

/** A signed access token. */
export interface IssuedToken {
  /** The compact JWS. */
  readonly token: string;
  readonly kid: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

/**
 * Issues Agora access tokens: JWTs signed with ES256 by the ring's current key, header `kid` (and
 * `typ: JWT`), claims `iss` = "agora-identity", `aud` = "agora", `sub` = customer id, `iat`, `exp`
 * (iat + ttl), `jti`, `email` and `roles`. This is the contract the gateway verifies.
 */
export class TokenIssuer {
  private readonly now: () => Date;

  constructor(
    private readonly keys: SigningKeyRing,
    private readonly options: { ttlSeconds: number; now?: () => Date },
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** Signs a token for `subject`. */
  async issue(subject: TokenSubject): Promise<IssuedToken> {
    const key = await this.keys.signer();
    const issuedAtSeconds = Math.floor(this.now().getTime() / 1000);
    const expiresAtSeconds = issuedAtSeconds + this.options.ttlSeconds;
    const token = await new SignJWT({ email: subject.email, roles: [...subject.roles] })
      .setProtectedHeader({ alg: tokenAlgorithm, kid: key.kid, typ: "JWT" })
      .setIssuer(tokenIssuer)
      .setAudience(tokenAudience)
      .setSubject(subject.customerId)
      .setIssuedAt(issuedAtSeconds)
      .setExpirationTime(expiresAtSeconds)
      .setJti(randomUUID())
      .sign(key.privateKey);
    return {
      token,
      kid: key.kid,
      issuedAt: new Date(issuedAtSeconds * 1000),
      expiresAt: new Date(expiresAtSeconds * 1000),
    };
  }
}
