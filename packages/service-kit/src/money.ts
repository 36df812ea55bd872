import type { Money } from "@agora/contracts/agora/common/v1/money";
import { InvalidArgumentError } from "./errors";

const NANOS_PER_UNIT = 1_000_000_000n;

/** An amount as a whole number of nanos (billionths of a unit) with its currency: exact arithmetic. */
export interface Amount {
  readonly currency: string;
  readonly nanos: bigint;
}

/** Converts a proto Money into an exact amount. */
export function amountOf(money: Money): Amount {
  return { currency: money.currencyCode, nanos: BigInt(money.units) * NANOS_PER_UNIT + BigInt(money.nanos) };
}

/** Converts an exact amount into a proto Money (units and nanos with the same sign). */
export function toMoney(amount: Amount): Money {
  const units = amount.nanos / NANOS_PER_UNIT;
  const nanos = amount.nanos - units * NANOS_PER_UNIT;
  return { currencyCode: amount.currency, units: Number(units), nanos: Number(nanos) };
}

/** A zero amount in a currency. */
export function zero(currency: string): Amount {
  return { currency, nanos: 0n };
}

/** a + b; both must be in the same currency. */
export function add(a: Amount, b: Amount): Amount {
  if (a.currency !== b.currency) throw new Error(`cannot add ${a.currency} and ${b.currency}`);
  return { currency: a.currency, nanos: a.nanos + b.nanos };
}

/** a − b; both must be in the same currency. */
export function subtract(a: Amount, b: Amount): Amount {
  if (a.currency !== b.currency) throw new Error(`cannot subtract ${b.currency} from ${a.currency}`);
  return { currency: a.currency, nanos: a.nanos - b.nanos };
}

/** amount × an integer factor. */
export function multiply(amount: Amount, factor: number): Amount {
  if (!Number.isInteger(factor)) throw new Error(`factor must be an integer, got ${factor}`);
  return { currency: amount.currency, nanos: amount.nanos * BigInt(factor) };
}

/** "59.90 EUR": two decimals (or more when the amount has them). */
export function formatAmount(amount: Amount): string {
  const negative = amount.nanos < 0n;
  const abs = negative ? -amount.nanos : amount.nanos;
  const units = abs / NANOS_PER_UNIT;
  const fraction = (abs % NANOS_PER_UNIT).toString().padStart(9, "0").replace(/0+$/, "").padEnd(2, "0");
  return `${negative ? "-" : ""}${units}.${fraction} ${amount.currency}`;
}

/**
 * Checks a Money from a request: present, ISO 4217 code, nanos in range, units and nanos with the same
 * sign, and (by default) positive. Throws INVALID_ARGUMENT naming `field`.
 */
export function validateMoney(field: string, money: Money | undefined, options: { positive?: boolean } = {}): Amount {
  if (!money) throw new InvalidArgumentError(field, "is required");
  if (!/^[A-Z]{3}$/.test(money.currencyCode)) {
    throw new InvalidArgumentError(`${field}.currency_code`, "must be a three-letter ISO 4217 code such as EUR");
  }
  if (!Number.isSafeInteger(money.units)) throw new InvalidArgumentError(`${field}.units`, "is out of range");
  if (!Number.isInteger(money.nanos) || money.nanos <= -1_000_000_000 || money.nanos >= 1_000_000_000) {
    throw new InvalidArgumentError(`${field}.nanos`, "must be between -999999999 and 999999999");
  }
  if ((money.units > 0 && money.nanos < 0) || (money.units < 0 && money.nanos > 0)) {
    throw new InvalidArgumentError(field, "units and nanos must have the same sign");
  }
  const amount = amountOf(money);
  if ((options.positive ?? true) && amount.nanos <= 0n) throw new InvalidArgumentError(field, "must be positive");
  return amount;
}
