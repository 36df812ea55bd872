import { check, InvalidArgumentError, NotFoundError } from "@agora/service-kit";

/** Checks a customer id as order events carry it (identity's ids: up to 100 characters, no spaces). */
export function validateCustomerId(field: string, value: string | undefined): string {
  const id = check.text(field, value, { max: 100 });
  if (/\s/.test(id)) throw new InvalidArgumentError(field, "must not contain spaces");
  return id;
}

/**
 * The customer whose data a list request may read. Through the gateway (`authenticated` set from
 * the token) the request's customer id may be empty (meaning "mine"); another customer's id is
 * NOT_FOUND, the kit's ownership rule (never the data, never a hint that it exists). Without an
 * authenticated customer the caller is a trusted service and must name the customer.
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
