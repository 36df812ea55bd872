import { defaultScryptParameters, formatHash, PasswordHasher, parseHash } from "../src/passwords";

// Low-cost parameters keep the unit tests quick; one test runs the production defaults.
const cheap = { logN: 10, r: 8, p: 1 };

describe("password hashing (scrypt)", () => {
  const hasher = new PasswordHasher(cheap);

  it("writes a self-describing string with its parameters, a 16-byte salt and a 32-byte hash", async () => {
    const stored = await hasher.hash("correct horse battery staple");
    expect(stored).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    const parsed = parseHash(stored);
    expect(parsed?.parameters).toEqual(cheap);
    expect(parsed?.salt).toHaveLength(16);
    expect(parsed?.hash).toHaveLength(32);
    expect(parsed && formatHash(parsed)).toBe(stored);
    expect(stored).not.toContain("horse");
  });

  it("uses the documented memory-hard defaults (N = 2^15, r = 8, p = 3) when none are given", async () => {
    expect(defaultScryptParameters).toEqual({ logN: 15, r: 8, p: 3 });
    const production = new PasswordHasher();
    const stored = await production.hash("correct horse battery staple");
    expect(stored.startsWith("$scrypt$ln=15,r=8,p=3$")).toBe(true);
    await expect(production.verify("correct horse battery staple", stored)).resolves.toBe(true);
  });

  it("verifies the right password and refuses a wrong one", async () => {
    const stored = await hasher.hash("correct horse battery staple");
    await expect(hasher.verify("correct horse battery staple", stored)).resolves.toBe(true);
    await expect(hasher.verify("correct horse battery stapler", stored)).resolves.toBe(false);
    await expect(hasher.verify("", stored)).resolves.toBe(false);
  });

  it("salts every hash differently", async () => {
    const a = await hasher.hash("same password here");
    const b = await hasher.hash("same password here");
    expect(a).not.toBe(b);
    expect(parseHash(a)?.salt.equals(parseHash(b)?.salt ?? Buffer.alloc(0))).toBe(false);
  });

  it("verifies hashes made with other parameters, and says they need a rehash", async () => {
    const older = new PasswordHasher({ logN: 11, r: 8, p: 1 });
    const stored = await older.hash("an older password");
    await expect(hasher.verify("an older password", stored)).resolves.toBe(true);
    expect(hasher.needsRehash(stored)).toBe(true);
    expect(hasher.needsRehash(await hasher.hash("a current password"))).toBe(false);
  });

  it("treats the same visible password in another Unicode normal form as the same password", async () => {
    const composed = "caf\u00e9-passwort-123";
    const decomposed = "cafe\u0301-passwort-123";
    const stored = await hasher.hash(composed);
    await expect(hasher.verify(decomposed, stored)).resolves.toBe(true);
  });

  it("never matches a malformed stored hash", async () => {
    for (const stored of ["", "plain text", "$scrypt$ln=10,r=8,p=1$$", "$argon2id$v=19$m=65536$abc$def"]) {
      await expect(hasher.verify("anything at all", stored)).resolves.toBe(false);
      expect(hasher.needsRehash(stored)).toBe(true);
    }
  });

  it("spends a real verification on a dummy hash for unknown users, and refuses", async () => {
    await expect(hasher.verifyAgainstDummy("whatever password")).resolves.toBe(false);
  });

  it("refuses parameters outside the sane range", () => {
    expect(() => new PasswordHasher({ logN: 4, r: 8, p: 1 })).toThrow(/logN/);
  });
});
