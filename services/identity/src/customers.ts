import type { Customer } from "@agora/contracts/agora/identity/v1/customer";
import type { RegisterCustomerRequest } from "@agora/contracts/agora/identity/v1/identity_service";
import { check, InvalidArgumentError } from "@agora/service-kit";
import type { CustomerRow } from "./db/schema";

/** Shortest and longest accepted password, in characters (Unicode code points). */
export const passwordLength = { min: 10, max: 200 } as const;

// Pragmatic address check (not full RFC 5322): a local part without spaces or "@", a domain of
// dot-separated labels of letters, digits and hyphens, and a top-level domain of two letters or more.
const emailPattern =
  /^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.[a-z]{2,63}$/;

/** A registration the domain accepted: email normalised, password still in clear (to be hashed). */
export interface NewCustomer {
  readonly email: string;
  readonly displayName: string;
  readonly password: string;
}

/** Trims and lower-cases an email address; INVALID_ARGUMENT naming `field` when it is not one. */
export function normalizeEmail(field: string, value: string | undefined): string {
  const email = (value ?? "").trim().toLowerCase();
  if (email === "") throw new InvalidArgumentError(field, "is required");
  if (email.length > 254) throw new InvalidArgumentError(field, "must have at most 254 characters");
  const local = email.split("@")[0] ?? "";
  if (!emailPattern.test(email) || local.length > 64 || local.startsWith(".") || local.endsWith(".")) {
    throw new InvalidArgumentError(field, "must be an email address such as ada@example.com");
  }
  return email;
}

/**
 * Checks a new password's length (10 to 200 characters, counted as code points). Passwords are not
 * trimmed: every character counts. The message never contains the password.
 */
export function validatePassword(field: string, value: string | undefined): string {
  const password = value ?? "";
  if (password === "") throw new InvalidArgumentError(field, "is required");
  const length = [...password].length;
  if (length < passwordLength.min) {
    throw new InvalidArgumentError(field, `must have at least ${passwordLength.min} characters`);
  }
  if (length > passwordLength.max) {
    throw new InvalidArgumentError(field, `must have at most ${passwordLength.max} characters`);
  }
  return password;
}

/** Validates a RegisterCustomer request, naming the first bad field. */
export function validateRegistration(request: RegisterCustomerRequest): NewCustomer {
  return {
    email: normalizeEmail("email", request.email),
    password: validatePassword("password", request.password),
    displayName: check.text("display_name", request.displayName, { max: 100 }),
  };
}

/**
 * Validates a Login request's shape only (present, bounded): whether the email is registered or the
 * password right is for the login itself to find out, with one answer for both.
 */
export function validateLogin(request: { email?: string; password?: string }): { email: string; password: string } {
  const email = (request.email ?? "").trim().toLowerCase();
  if (email === "") throw new InvalidArgumentError("email", "is required");
  if (email.length > 254) throw new InvalidArgumentError("email", "must have at most 254 characters");
  const password = request.password ?? "";
  if (password === "") throw new InvalidArgumentError("password", "is required");
  if ([...password].length > passwordLength.max) {
    throw new InvalidArgumentError("password", `must have at most ${passwordLength.max} characters`);
  }
  return { email, password };
}

/** Parses ADMIN_EMAILS ("ops@example.com, boss@example.com") into a set of lower-case addresses. */
export function parseAdminEmails(value: string): ReadonlySet<string> {
  return new Set(
    value
      .split(",")
      .map((email) => email.trim().toLowerCase())
      .filter((email) => email !== ""),
  );
}

/** The roles of a customer's tokens: "customer", plus "admin" when the email is in ADMIN_EMAILS. */
export function rolesFor(email: string, adminEmails: ReadonlySet<string>): string[] {
  return adminEmails.has(email.toLowerCase()) ? ["customer", "admin"] : ["customer"];
}

/** The proto Customer of a row (never the password hash). */
export function toCustomer(row: CustomerRow): Customer {
  return {
    customerId: row.customerId,
    email: row.email,
    displayName: row.displayName,
    createTime: row.createdAt,
  };
}
