import { InvalidArgumentError } from "./errors";

/**
 * Shape of a stock keeping unit as the catalog issues them and inventory, order and shipping receive
 * them: upper case letters and digits in dash-separated groups, for example "AG-KIT-001".
 */
export const skuPattern = /^[A-Z0-9]+(-[A-Z0-9]+)*$/;

/** Longest SKU Agora accepts. */
export const skuMaxLength = 40;

/** Checks a SKU from a request; INVALID_ARGUMENT naming `field` when it is missing or malformed. */
export function validateSku(field: string, value: string | undefined): string {
  const sku = (value ?? "").trim();
  if (sku === "") throw new InvalidArgumentError(field, "is required");
  if (sku.length > skuMaxLength) throw new InvalidArgumentError(field, `must have at most ${skuMaxLength} characters`);
  if (!skuPattern.test(sku)) {
    throw new InvalidArgumentError(field, "must be upper case letters, digits and dashes, e.g. AG-KIT-001");
  }
  return sku;
}

/** Which of two alternative lookup fields a request gave. */
export interface ChosenField<K extends string> {
  /** Proto name of the field that was set. */
  readonly field: K;
  /** Its value, trimmed. */
  readonly value: string;
}

/**
 * For requests that name a resource by one of two keys ("give payment_id or order_id"): returns the one
 * that is set; INVALID_ARGUMENT naming the first field when neither is, and the second when both are.
 *
 * @example exactlyOneOf(["payment_id", request.paymentId], ["order_id", request.orderId])
 */
export function exactlyOneOf<A extends string, B extends string>(
  first: readonly [A, string | undefined],
  second: readonly [B, string | undefined],
): ChosenField<A | B> {
  const [firstName, firstValue] = first;
  const [secondName, secondValue] = second;
  const a = (firstValue ?? "").trim();
  const b = (secondValue ?? "").trim();
  if (a === "" && b === "") throw new InvalidArgumentError(firstName, `is required (or give ${secondName} instead)`);
  if (a !== "" && b !== "") {
    throw new InvalidArgumentError(secondName, `give either ${firstName} or ${secondName}, not both`);
  }
  return a !== "" ? { field: firstName, value: a } : { field: secondName, value: b };
}
