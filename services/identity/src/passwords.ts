import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/** scrypt cost parameters: N = 2^logN (CPU and memory), r (block size), p (parallelism). */
export interface ScryptParameters {
  readonly logN: number;
  readonly r: number;
  readonly p: number;
}

/**
 * The default parameters: N = 2^15, r = 8, p = 3 — one of the equivalent settings the OWASP Password
 * Storage Cheat Sheet lists for scrypt (32 MiB of memory per hash, 128 · N · r bytes). Raise logN
 * when hardware gets faster; stored hashes name their own parameters and are upgraded at the next
 * successful login.
 */
export const defaultScryptParameters: ScryptParameters = { logN: 15, r: 8, p: 3 };

const saltBytes = 16;
const hashBytes = 32;
const format = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

/** A stored hash taken apart. */
export interface ParsedHash {
  readonly parameters: ScryptParameters;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/** Memory scrypt needs for these parameters (with headroom), passed as maxmem. */
function maxmemOf(parameters: ScryptParameters): number {
  return 128 * 2 ** parameters.logN * parameters.r * 2 + 1024 * 1024;
}

function derive(password: string, salt: Buffer, parameters: ScryptParameters, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize("NFC"),
      salt,
      length,
      { N: 2 ** parameters.logN, r: parameters.r, p: parameters.p, maxmem: maxmemOf(parameters) },
      (error, key) => (error ? reject(error) : resolve(key)),
    );
  });
}

/**
 * Writes a hash as a self-describing string in the PHC style: `$scrypt$ln=15,r=8,p=3$<salt>$<hash>`
 * (salt and hash base64url). The parameters travel with every hash, so they can change over time.
 */
export function formatHash(parsed: ParsedHash): string {
  const { logN, r, p } = parsed.parameters;
  return `$scrypt$ln=${logN},r=${r},p=${p}$${parsed.salt.toString("base64url")}$${parsed.hash.toString("base64url")}`;
}

/** Reads a string written by {@link formatHash}; undefined when it is not one. */
export function parseHash(stored: string): ParsedHash | undefined {
  const match = format.exec(stored);
  if (!match) return undefined;
  const [, logN, r, p, salt, hash] = match;
  return {
    parameters: { logN: Number(logN), r: Number(r), p: Number(p) },
    salt: Buffer.from(salt as string, "base64url"),
    hash: Buffer.from(hash as string, "base64url"),
  };
}

/**
 * Hashes and checks passwords with scrypt from node:crypto (memory-hard, runs on libuv's thread pool
 * so the event loop stays free). Each password gets its own random 16-byte salt. Passwords are
 * NFC-normalised first, so the same visible password always hashes the same.
 */
export class PasswordHasher {
  private dummy?: Promise<string>;

  constructor(readonly parameters: ScryptParameters = defaultScryptParameters) {
    if (!Number.isInteger(parameters.logN) || parameters.logN < 10 || parameters.logN > 22) {
      throw new Error(`scrypt logN must be an integer from 10 to 22, got ${parameters.logN}`);
    }
  }

  /** A new self-describing hash of `password` with a fresh salt and the current parameters. */
  async hash(password: string): Promise<string> {
    const salt = randomBytes(saltBytes);
    const hash = await derive(password, salt, this.parameters, hashBytes);
    return formatHash({ parameters: this.parameters, salt, hash });
  }

  /**
   * True when `password` matches `stored`. Compares in constant time; a malformed stored hash never
   * matches. Costs one scrypt run with the stored parameters.
   */
  async verify(password: string, stored: string): Promise<boolean> {
    const parsed = parseHash(stored);
    if (!parsed || parsed.hash.length === 0) return false;
    const candidate = await derive(password, parsed.salt, parsed.parameters, parsed.hash.length);
    return timingSafeEqual(candidate, parsed.hash);
  }

  /**
   * Spends the same time as a {@link verify} against a real hash, for logins with an unknown email,
   * so response times do not tell which emails are registered. Always false.
   */
  async verifyAgainstDummy(password: string): Promise<false> {
    this.dummy ??= this.hash(randomBytes(24).toString("base64url"));
    await this.verify(password, await this.dummy);
    return false;
  }

  /** True when `stored` was made with other parameters than the current ones (rehash after login). */
  needsRehash(stored: string): boolean {
    const parsed = parseHash(stored);
    if (!parsed) return true;
    const { logN, r, p } = parsed.parameters;
    return logN !== this.parameters.logN || r !== this.parameters.r || p !== this.parameters.p;
  }
}
