import { InvalidArgumentError } from "@agora/service-kit";
import {
  normalizeEmail,
  parseAdminEmails,
  rolesFor,
  validateLogin,
  validatePassword,
  validateRegistration,
} from "../src/customers";

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidArgumentError) return error.field;
    throw error;
  }
  return undefined;
}

describe("customer validation", () => {
  it("lower-cases and trims email addresses", () => {
    expect(normalizeEmail("email", "  Ada.Lovelace+shop@Example.COM ")).toBe("ada.lovelace+shop@example.com");
  });

  it.each([
    "",
    "ada",
    "ada@",
    "@example.com",
    "ada@example",
    "ada lovelace@example.com",
    "ada@@example.com",
    ".ada@example.com",
    "ada@-example.com",
    `${"a".repeat(65)}@example.com`,
    `ada@${"a".repeat(250)}.com`,
  ])("refuses the email %j", (email) => {
    expect(() => normalizeEmail("email", email)).toThrow(InvalidArgumentError);
    expect(fieldOf(() => normalizeEmail("email", email))).toBe("email");
  });

  it("accepts passwords of 10 to 200 characters, counting code points, and never trims them", () => {
    expect(validatePassword("password", " ten chars")).toBe(" ten chars");
    expect(validatePassword("password", "🔑".repeat(10))).toHaveLength(20);
    expect(() => validatePassword("password", "short")).toThrow("password: must have at least 10 characters");
    expect(() => validatePassword("password", "🔑".repeat(9))).toThrow(/at least 10/);
    expect(validatePassword("password", "x".repeat(200))).toHaveLength(200);
    expect(() => validatePassword("password", "x".repeat(201))).toThrow("password: must have at most 200 characters");
    expect(() => validatePassword("password", "")).toThrow("password: is required");
  });

  it("names the first bad field of a registration, without echoing the password", () => {
    const good = { email: "ada@example.com", password: "correct horse battery", displayName: "Ada" };
    expect(validateRegistration(good)).toEqual({ ...good });
    expect(fieldOf(() => validateRegistration({ ...good, email: "nope" }))).toBe("email");
    expect(fieldOf(() => validateRegistration({ ...good, password: "tiny-pass" }))).toBe("password");
    expect(fieldOf(() => validateRegistration({ ...good, displayName: "  " }))).toBe("display_name");
    expect(fieldOf(() => validateRegistration({ ...good, displayName: "x".repeat(101) }))).toBe("display_name");
    expect(() => validateRegistration({ ...good, password: "tiny-pass" })).not.toThrow(/tiny-pass/);
  });

  it("checks only the shape of login credentials", () => {
    expect(validateLogin({ email: " Ada@Example.com", password: "x" })).toEqual({
      email: "ada@example.com",
      password: "x",
    });
    expect(fieldOf(() => validateLogin({ email: "", password: "x" }))).toBe("email");
    expect(fieldOf(() => validateLogin({ email: "a@b.de", password: "" }))).toBe("password");
    expect(fieldOf(() => validateLogin({ email: "a@b.de", password: "x".repeat(201) }))).toBe("password");
  });

  it("gives admins the admin role from ADMIN_EMAILS, case-insensitively", () => {
    const admins = parseAdminEmails(" Ops@Example.com, ,boss@example.com ");
    expect([...admins]).toEqual(["ops@example.com", "boss@example.com"]);
    expect(rolesFor("ops@example.com", admins)).toEqual(["customer", "admin"]);
    expect(rolesFor("OPS@example.com", admins)).toEqual(["customer", "admin"]);
    expect(rolesFor("ada@example.com", admins)).toEqual(["customer"]);
    expect(rolesFor("ada@example.com", parseAdminEmails(""))).toEqual(["customer"]);
  });
});
