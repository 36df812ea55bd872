import type { Address } from "@agora/contracts/agora/common/v1/address";
import { type Amount, check, InvalidArgumentError, validateSku } from "@agora/service-kit";

/** A quantity of one SKU in a parcel, validated. */
export interface ParcelItem {
  readonly sku: string;
  readonly quantity: number;
}

/** A price and delivery estimate. */
export interface ShippingQuote {
  readonly cost: Amount;
  readonly carrier: string;
  readonly estimatedDays: number;
}

/** Where a parcel goes, seen from the warehouse in Germany. */
export type ShippingZone = "domestic" | "eu" | "europe" | "world";

const euMembers: ReadonlySet<string> = new Set(
  "AT BE BG HR CY CZ DK EE FI FR GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split(" "),
);
const restOfEurope: ReadonlySet<string> = new Set(
  "AD AL BA CH FO GB GG GI IM IS JE LI MC MD ME MK NO RS SM UA VA".split(" "),
);

/** The tariff of each zone, in EUR: base price for the first unit, then a price per further unit. */
export const tariffs: Readonly<
  Record<ShippingZone, { baseCents: number; perExtraUnitCents: number; days: number; carrier: string }>
> = {
  domestic: { baseCents: 490, perExtraUnitCents: 50, days: 2, carrier: "agora-post" },
  eu: { baseCents: 990, perExtraUnitCents: 100, days: 4, carrier: "agora-post" },
  europe: { baseCents: 1490, perExtraUnitCents: 150, days: 5, carrier: "agora-post" },
  world: { baseCents: 2490, perExtraUnitCents: 250, days: 8, carrier: "agora-global" },
};

/** Parcels of more units than this count as bulky: one more day to deliver. */
export const bulkyAboveUnits = 20;

/** The most units of one SKU in a parcel. */
export const maxItemQuantity = 1000;

/** The zone of a destination country (ISO 3166-1 alpha-2). */
export function zoneOf(countryCode: string): ShippingZone {
  if (countryCode === "DE") return "domestic";
  if (euMembers.has(countryCode)) return "eu";
  if (restOfEurope.has(countryCode)) return "europe";
  return "world";
}

/**
 * Prices shipping `items` to `address`, deterministically: the zone's base price for the first unit
 * and its price per further unit (units are what weighs here), the zone's delivery time plus a day
 * for bulky parcels, and the zone's carrier. Always in EUR.
 */
export function quoteShipping(address: Pick<Address, "countryCode">, items: readonly ParcelItem[]): ShippingQuote {
  const tariff = tariffs[zoneOf(address.countryCode)];
  const units = items.reduce((sum, item) => sum + item.quantity, 0);
  const cents = tariff.baseCents + tariff.perExtraUnitCents * Math.max(0, units - 1);
  return {
    cost: { currency: "EUR", nanos: BigInt(cents) * 10_000_000n },
    carrier: tariff.carrier,
    estimatedDays: tariff.days + (units > bulkyAboveUnits ? 1 : 0),
  };
}

/** Checks the items of a quote or shipment: 1 to 50, one per SKU, quantities from 1 to 1000. */
export function validateItems(
  field: string,
  items: readonly { sku?: string; quantity?: number }[] | undefined,
): ParcelItem[] {
  const given = check.list(field, items, { min: 1, max: 50 });
  const seen = new Map<string, number>();
  return given.map((item, index) => {
    const sku = validateSku(`${field}[${index}].sku`, item.sku);
    const quantity = check.integer(`${field}[${index}].quantity`, item.quantity, { min: 1, max: maxItemQuantity });
    const earlier = seen.get(sku);
    if (earlier !== undefined) {
      throw new InvalidArgumentError(`${field}[${index}].sku`, `${sku} appears twice (also ${field}[${earlier}])`);
    }
    seen.set(sku, index);
    return { sku, quantity };
  });
}
