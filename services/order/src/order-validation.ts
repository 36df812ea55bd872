import { createHash } from "node:crypto";
import type { Address } from "@agora/contracts/agora/common/v1/address";
import type { PaymentCard } from "@agora/contracts/agora/order/v1/order";
import type { PlaceOrderRequest } from "@agora/contracts/agora/order/v1/order_service";
import { check, InvalidArgumentError, PermissionDeniedError } from "@agora/service-kit";

/** A PlaceOrder line as validated. */
export interface RequestedLine {
  readonly productId: string;
  readonly quantity: number;
}

/** A PlaceOrder request as validated: what the use case works with. */
export interface ValidPlaceOrder {
  readonly idempotencyKey: string;
  readonly customerId: string;
  readonly lines: readonly RequestedLine[];
  readonly shippingAddress: Address;
  /** The card, normalized (number without spaces or dashes); only ever passed on to TokenizeCard. */
  readonly card: PaymentCard;
  /** Hash of lines and address: a key reused for a different order is refused. */
  readonly requestHash: string;
}

const productIdPattern = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const countryCodePattern = /^[A-Z]{2}$/;
const postalCodePattern = /^[A-Za-z0-9][A-Za-z0-9 -]{0,18}[A-Za-z0-9]$|^[A-Za-z0-9]$/;

/** Checks a customer id (as identity issues them: up to 100 characters without spaces). */
export function validateCustomerId(field: string, value: string | undefined): string {
  const id = check.text(field, value, { max: 100 });
  if (/\s/.test(id)) throw new InvalidArgumentError(field, "must not contain spaces");
  return id;
}

/**
 * The customer a call acts for. When the gateway vouches for a customer (`authenticated`), the
 * request's customer_id must be that customer or empty; otherwise (a trusted service) it is required.
 */
export function effectiveCustomerId(field: string, requested: string | undefined, authenticated?: string): string {
  if (authenticated === undefined) return validateCustomerId(field, requested);
  if (requested && requested.trim() !== "" && requested.trim() !== authenticated) {
    throw new PermissionDeniedError(`${field}: does not match the authenticated customer`);
  }
  return authenticated;
}

/** Checks an order id (a UUID) and returns it in lower case. */
export function validateOrderId(field: string, value: string | undefined): string {
  return check.uuid(field, value);
}

/** Checks a shipping address, naming the offending field under `field`. */
export function validateAddress(field: string, value: Address | undefined): Address {
  const address = check.present(field, value);
  const recipientName = check.text(`${field}.recipient_name`, address.recipientName, { max: 200 });
  const lines = check.list(`${field}.address_lines`, address.addressLines, { min: 1, max: 5 });
  const addressLines = lines.map((line, index) => check.text(`${field}.address_lines[${index}]`, line, { max: 200 }));
  const city = check.text(`${field}.city`, address.city, { max: 100 });
  const postalCode = check.pattern(
    `${field}.postal_code`,
    address.postalCode,
    postalCodePattern,
    "1 to 20 letters, digits, spaces or dashes, for example 10115",
  );
  const countryCode = check.pattern(
    `${field}.country_code`,
    address.countryCode,
    countryCodePattern,
    "an ISO 3166-1 alpha-2 code in upper case, for example DE",
  );
  const region = check.optionalText(`${field}.region`, address.region, { max: 100 });
  return { recipientName, addressLines, city, postalCode, countryCode, region };
}

/** True when the digits pass the Luhn check. */
export function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/**
 * Checks a card before it goes to the payment service, so bad input is named in the order's terms
 * (`card.number`), by the payment service's rules: `now` decides expiry — a card is valid through the
 * end of its expiry month, and its year may be at most 50 years ahead.
 */
export function validateCard(field: string, value: PaymentCard | undefined, now: Date = new Date()): PaymentCard {
  const card = check.present(field, value);
  const raw = (card.number ?? "").trim();
  if (raw === "") throw new InvalidArgumentError(`${field}.number`, "is required");
  if (!/^[0-9 -]+$/.test(raw)) throw new InvalidArgumentError(`${field}.number`, "must contain only digits");
  const number = raw.replace(/[ -]/g, "");
  if (number.length < 12 || number.length > 19) {
    throw new InvalidArgumentError(`${field}.number`, "must have 12 to 19 digits");
  }
  if (!passesLuhn(number)) throw new InvalidArgumentError(`${field}.number`, "is not a valid card number");
  const expMonth = check.integer(`${field}.exp_month`, card.expMonth, { min: 1, max: 12 });
  const expYear = check.integer(`${field}.exp_year`, card.expYear, { min: 1000, max: 9999 });
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth() + 1;
  if (expYear < year || (expYear === year && expMonth < month)) {
    throw new InvalidArgumentError(`${field}.exp_year`, "the card has expired");
  }
  if (expYear > year + 50) throw new InvalidArgumentError(`${field}.exp_year`, `must be at most ${year + 50}`);
  const cvc = check.pattern(`${field}.cvc`, card.cvc, /^[0-9]{3,4}$/, "3 or 4 digits");
  // Optional, as at payment: a card-not-present authorization does not check the name on the card.
  const holderName = check.optionalText(`${field}.holder_name`, card.holderName, { max: 200 });
  return { number, expMonth, expYear, cvc, holderName };
}

/** Hash of what an idempotency key stands for: the lines and the address (never the card). */
export function requestHashOf(lines: readonly RequestedLine[], address: Address): string {
  const canonical = JSON.stringify({
    lines: lines.map((line) => [line.productId, line.quantity]),
    address: [
      address.recipientName,
      address.addressLines,
      address.city,
      address.postalCode,
      address.countryCode,
      address.region,
    ],
  });
  return createHash("sha256").update(canonical).digest("hex");
}

/**
 * Validates a PlaceOrder request, naming the first bad field (`lines[0].quantity`,
 * `shipping_address.country_code`, `card.number` …). `authenticatedCustomer` is the kit's
 * `context.customerId` (set by the gateway).
 */
export function validatePlaceOrder(
  request: PlaceOrderRequest,
  authenticatedCustomer?: string,
  now: Date = new Date(),
): ValidPlaceOrder {
  const idempotencyKey = (request.idempotencyKey ?? "").trim();
  if (idempotencyKey === "") throw new InvalidArgumentError("idempotency_key", "is required");
  if (idempotencyKey.length < 8 || idempotencyKey.length > 100) {
    throw new InvalidArgumentError("idempotency_key", "must have 8 to 100 characters");
  }
  if (!/^[\x21-\x7e]+$/.test(idempotencyKey)) {
    throw new InvalidArgumentError("idempotency_key", "must be printable ASCII without spaces");
  }
  const customerId = effectiveCustomerId("customer_id", request.customerId, authenticatedCustomer);
  const requested = check.list("lines", request.lines, { min: 1, max: 50 });
  const seen = new Map<string, number>();
  const lines = requested.map((line, index) => {
    const field = `lines[${index}]`;
    const productId = check.pattern(
      `${field}.product_id`,
      line.productId,
      productIdPattern,
      "a product id of lower case letters, digits and dashes, for example espresso-machine",
    );
    if (productId.length > 64) throw new InvalidArgumentError(`${field}.product_id`, "must have at most 64 characters");
    const first = seen.get(productId);
    if (first !== undefined) {
      throw new InvalidArgumentError(`${field}.product_id`, `${productId} is already in lines[${first}]`);
    }
    seen.set(productId, index);
    const quantity = check.integer(`${field}.quantity`, line.quantity, { min: 1, max: 100 });
    return { productId, quantity };
  });
  const shippingAddress = validateAddress("shipping_address", request.shippingAddress);
  const card = validateCard("card", request.card, now);
  return {
    idempotencyKey,
    customerId,
    lines,
    shippingAddress,
    card,
    requestHash: requestHashOf(lines, shippingAddress),
  };
}

/** Checks CancelOrder's reason (optional, up to 500 characters). */
export function validateCancelReason(value: string | undefined): string {
  return check.optionalText("reason", value, { max: 500 }) || "cancelled by the customer";
}
