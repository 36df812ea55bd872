import type { Address } from "@agora/contracts/agora/common/v1/address";
import { check, InvalidArgumentError } from "@agora/service-kit";

/** Every ISO 3166-1 alpha-2 country code (249), for checking a destination. */
export const countryCodes: ReadonlySet<string> = new Set(
  (
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY " +
    "BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK " +
    "FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR " +
    "IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK " +
    "ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM " +
    "PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF " +
    "TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"
  ).split(" "),
);

/** Postal code formats of the countries Agora ships to most; others get a generic check. */
const postalCodeFormats: Readonly<Record<string, { pattern: RegExp; example: string }>> = {
  DE: { pattern: /^\d{5}$/, example: "10115" },
  FR: { pattern: /^\d{5}$/, example: "75001" },
  IT: { pattern: /^\d{5}$/, example: "00184" },
  ES: { pattern: /^\d{5}$/, example: "28013" },
  FI: { pattern: /^\d{5}$/, example: "00100" },
  AT: { pattern: /^\d{4}$/, example: "1010" },
  BE: { pattern: /^\d{4}$/, example: "1000" },
  CH: { pattern: /^\d{4}$/, example: "8001" },
  DK: { pattern: /^\d{4}$/, example: "1050" },
  NO: { pattern: /^\d{4}$/, example: "0150" },
  NL: { pattern: /^\d{4} ?[A-Z]{2}$/, example: "1012 AB" },
  PL: { pattern: /^\d{2}-\d{3}$/, example: "00-950" },
  PT: { pattern: /^\d{4}-\d{3}$/, example: "1100-148" },
  SE: { pattern: /^\d{3} ?\d{2}$/, example: "111 22" },
  GB: { pattern: /^[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}$/, example: "SW1A 1AA" },
  US: { pattern: /^\d{5}(-\d{4})?$/, example: "94103" },
  CA: { pattern: /^[A-Z]\d[A-Z] ?\d[A-Z]\d$/, example: "K1A 0B1" },
};

/** Countries whose addresses need a state or province in `region`. */
const regionRequired: ReadonlySet<string> = new Set(["US", "CA", "AU"]);

/** Countries without postal codes: an empty postal_code is fine there. */
const withoutPostalCodes: ReadonlySet<string> = new Set(["AE", "AG", "AO", "BS", "BZ", "HK", "IE", "MO", "QA"]);

const genericPostalCode = /^[A-Z0-9][A-Z0-9 -]{1,11}$/;

/**
 * Checks a destination address, naming the bad field under `field` (e.g. "address.postal_code"):
 * recipient, 1 to 3 address lines, city, an ISO 3166-1 country code, a postal code in that country's
 * format (upper-cased; optional where the country has none) and a region where the country needs one.
 * Returns the address trimmed and normalised.
 */
export function validateAddress(field: string, address: Address | undefined): Address {
  const given = check.present(field, address);
  const countryCode = check.pattern(
    `${field}.country_code`,
    given.countryCode,
    /^[A-Z]{2}$/,
    "an ISO 3166-1 alpha-2 code in upper case, e.g. DE",
  );
  if (!countryCodes.has(countryCode)) {
    throw new InvalidArgumentError(`${field}.country_code`, `${countryCode} is not an ISO 3166-1 country code`);
  }
  const recipientName = check.text(`${field}.recipient_name`, given.recipientName, { max: 200 });
  const lines = check.list(`${field}.address_lines`, given.addressLines, { min: 1, max: 3 });
  const addressLines = lines.map((line, index) => check.text(`${field}.address_lines[${index}]`, line, { max: 200 }));
  const city = check.text(`${field}.city`, given.city, { max: 100 });
  const postalCode = validatePostalCode(`${field}.postal_code`, given.postalCode, countryCode);
  const region = check.optionalText(`${field}.region`, given.region, { max: 100 });
  if (region === "" && regionRequired.has(countryCode)) {
    throw new InvalidArgumentError(`${field}.region`, `is required for addresses in ${countryCode}`);
  }
  return { recipientName, addressLines, city, postalCode, countryCode, region };
}

function validatePostalCode(field: string, value: string | undefined, countryCode: string): string {
  const postalCode = (value ?? "").trim().toUpperCase();
  if (postalCode === "") {
    if (withoutPostalCodes.has(countryCode)) return "";
    throw new InvalidArgumentError(field, "is required");
  }
  const format = postalCodeFormats[countryCode];
  if (format && !format.pattern.test(postalCode)) {
    throw new InvalidArgumentError(field, `is not a postal code of ${countryCode} (for example ${format.example})`);
  }
  if (!format && !genericPostalCode.test(postalCode)) {
    throw new InvalidArgumentError(field, "must be 2 to 12 letters, digits, spaces or dashes");
  }
  return postalCode;
}
