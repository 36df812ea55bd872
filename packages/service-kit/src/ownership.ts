import { InvalidArgumentError, NotFoundError } from "./errors";
import { check } from "./validation";

/** Checks a customer id as requests and events carry it (identity's ids: up to 100 characters, no spaces). */
export function validateCustomerId(field: string, value: string | undefined): string {
  const id = check.text(field, value, { max: 100 });
  if (/\s/.test(id)) throw new InvalidArgumentError(field, "must not contain spaces");
  return id;
}

/**
 * The customer whose data a list request may read — the ownership rule of docs/service-guide.md for
 * lists. Through the gateway (`authenticated` is the token's customer) the request's customer id may
 * be empty, meaning "mine"; another customer's id is NOT_FOUND (never the data, never a hint that it
 * exists). Without an authenticated customer the caller is a trusted service and must name one.
 */
export function ownedCustomerId(
  field: string,
  requested: string | undefined,
  authenticated: string | undefined,
): string {
  if (authenticated === undefined) return validateCustomerId(field, requested);
  const wanted = (requested ?? "").trim();
  if (wanted !== "" && wanted !== authenticated) throw new NotFoundError(`no ${field} ${wanted} for this caller`);
  return authenticated;
}
