import { check, InvalidArgumentError } from "@agora/service-kit";

/** A card as a customer typed it, validated: the only place the full number and CVC exist. */
export interface CardDetails {
  /** Digits only. Never stored, never logged. */
  readonly number: string;
  readonly expMonth: number;
  readonly expYear: number;
  /** Checked for shape only; never stored, never logged. */
  readonly cvc: string;
  readonly holderName: string;
}

/** What may be kept about a card: brand, last four digits and expiry. */
export interface CardSummary {
  readonly brand: string;
  readonly last4: string;
  readonly expMonth: number;
  readonly expYear: number;
}

/** Card numbers without their separators: spaces and dashes are allowed between digits. */
export function normaliseCardNumber(value: string): string {
  return value.replace(/[\s-]/g, "");
}

/** The Luhn (mod 10) check every card number carries in its last digit. */
export function passesLuhn(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** The card brand by its issuer prefix: visa, mastercard, amex, discover, jcb, or "card" when unknown. */
export function brandOf(digits: string): string {
  const first4 = Number(digits.slice(0, 4));
  if (/^4/.test(digits)) return "visa";
  if (/^5[1-5]/.test(digits) || (first4 >= 2221 && first4 <= 2720)) return "mastercard";
  if (/^3[47]/.test(digits)) return "amex";
  if (/^(6011|65|64[4-9])/.test(digits)) return "discover";
  if (first4 >= 3528 && first4 <= 3589) return "jcb";
  return "card";
}

/** True once the card's expiry month has ended (a card is valid through the last day of its month). */
export function hasExpired(expMonth: number, expYear: number, now: Date): boolean {
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth() + 1;
  return expYear < year || (expYear === year && expMonth < month);
}

/**
 * Validates a TokenizeCard request: a number of 12 to 19 digits (spaces and dashes ignored) that
 * passes the Luhn check, an expiry month and four-digit year not in the past (and at most 50 years
 * ahead), a CVC of 3 or 4 digits and an optional holder name. Errors name the field but never repeat
 * the number or the CVC.
 */
export function validateCard(
  request: { number?: string; expMonth?: number; expYear?: number; cvc?: string; holderName?: string },
  now: Date,
): CardDetails {
  const raw = request.number ?? "";
  if (raw.trim() === "") throw new InvalidArgumentError("number", "is required");
  if (!/^[\d\s-]+$/.test(raw)) throw new InvalidArgumentError("number", "must contain only digits, spaces and dashes");
  const number = normaliseCardNumber(raw);
  if (number.length < 12 || number.length > 19) throw new InvalidArgumentError("number", "must have 12 to 19 digits");
  if (!passesLuhn(number)) throw new InvalidArgumentError("number", "is not a valid card number (Luhn check failed)");
  const expMonth = check.integer("exp_month", request.expMonth, { min: 1, max: 12 });
  const thisYear = now.getUTCFullYear();
  const expYear = check.integer("exp_year", request.expYear, { min: 1000, max: 9999 });
  if (expYear < thisYear) throw new InvalidArgumentError("exp_year", "the card has expired");
  if (expYear > thisYear + 50) throw new InvalidArgumentError("exp_year", `must be at most ${thisYear + 50}`);
  if (hasExpired(expMonth, expYear, now)) throw new InvalidArgumentError("exp_month", "the card has expired");
  const cvc = (request.cvc ?? "").trim();
  if (cvc === "") throw new InvalidArgumentError("cvc", "is required");
  if (!/^\d{3,4}$/.test(cvc)) throw new InvalidArgumentError("cvc", "must be 3 or 4 digits");
  const holderName = check.optionalText("holder_name", request.holderName, { max: 200 });
  return { number, expMonth, expYear, cvc, holderName };
}

/** What may be kept of a validated card. */
export function summaryOf(card: CardDetails): CardSummary {
  return { brand: brandOf(card.number), last4: card.number.slice(-4), expMonth: card.expMonth, expYear: card.expYear };
}
