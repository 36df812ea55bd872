import { exportJWK, generateKeyPair, SignJWT } from "jose";
import type { PublishedKey } from "../../src/auth";

/** An ES256 key pair as the identity service would hold it, with its published (public) form. */
export interface SigningKey {
  readonly kid: string;
  readonly privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];
  readonly published: PublishedKey;
}

/** Creates an ES256 signing key with the given key id. */
export async function createSigningKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(publicKey);
  return {
    kid,
    privateKey,
    published: { kty: "EC", kid, alg: "ES256", use: "sig", crv: "P-256", x: jwk.x ?? "", y: jwk.y ?? "" },
  };
}

/** Claims of a test token; defaults make a valid customer token. */
export interface TokenClaims {
  sub: string;
  roles?: string[];
  email?: string;
  iss?: string;
  aud?: string;
  /** Seconds from now; negative for an expired token. Default 600. */
  expiresInSeconds?: number;
  /** Overrides the kid header (an unknown key id). */
  kid?: string;
}

/** Signs an access token exactly as the identity contract describes (ES256, kid, iss, aud, sub, roles). */
export async function signToken(key: SigningKey, claims: TokenClaims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ email: claims.email ?? `${claims.sub}@example.com`, roles: claims.roles ?? ["customer"] })
    .setProtectedHeader({ alg: "ES256", kid: claims.kid ?? key.kid, typ: "JWT" })
    .setIssuer(claims.iss ?? "agora-identity")
    .setAudience(claims.aud ?? "agora")
    .setSubject(claims.sub)
    .setIssuedAt(now - 5)
    .setExpirationTime(now + (claims.expiresInSeconds ?? 600))
    .sign(key.privateKey);
}
