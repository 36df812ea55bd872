/** Weights of the UPU S10 check digit over the 8 serial digits. */
const weights = [8, 6, 4, 2, 3, 5, 9, 7];

/** The S10 check digit of an 8-digit serial number. */
export function s10CheckDigit(serial: string): number {
  if (!/^\d{8}$/.test(serial)) throw new Error(`an S10 serial has 8 digits, got ${serial}`);
  const sum = weights.reduce((total, weight, index) => total + weight * Number(serial[index]), 0);
  const check = 11 - (sum % 11);
  return check === 10 ? 0 : check === 11 ? 5 : check;
}

/**
 * A tracking number in the UPU S10 format postal carriers use: two service letters, an 8-digit serial,
 * its check digit and the ISO code of the origin country — e.g. "AG000000014DE" for serial 1.
 */
export function trackingNumber(serial: number, service = "AG", origin = "DE"): string {
  if (!Number.isInteger(serial) || serial < 0) throw new Error(`serial must be a non-negative integer, got ${serial}`);
  const digits = String(serial % 100_000_000).padStart(8, "0");
  return `${service}${digits}${s10CheckDigit(digits)}${origin}`;
}

/** True when `value` is an S10 tracking number whose check digit is right. */
export function isValidTrackingNumber(value: string): boolean {
  const match = /^[A-Z]{2}(\d{8})(\d)[A-Z]{2}$/.exec(value);
  return match !== null && s10CheckDigit(match[1] as string) === Number(match[2]);
}
