import type { PageRequest } from "@agora/contracts/agora/common/v1/paging";
import { InvalidArgumentError } from "./errors";

/** A validated page request: how many items, and where the previous page stopped. */
export interface Page<Cursor> {
  readonly size: number;
  /** The position after the last item of the previous page; undefined for the first page. */
  readonly after?: Cursor;
}

/**
 * Validates `page` of a list request. Tokens are opaque to clients: base64url JSON of the cursor the
 * service chose (keyset pagination), checked with `isCursor`.
 */
export function readPage<Cursor>(
  page: PageRequest | undefined,
  isCursor: (value: unknown) => value is Cursor,
  options: { defaultSize?: number; maxSize?: number } = {},
): Page<Cursor> {
  const defaultSize = options.defaultSize ?? 20;
  const maxSize = options.maxSize ?? 100;
  const requested = page?.pageSize ?? 0;
  if (!Number.isInteger(requested) || requested < 0 || requested > maxSize) {
    throw new InvalidArgumentError("page.page_size", `must be between 0 and ${maxSize} (0 means ${defaultSize})`);
  }
  const size = requested === 0 ? defaultSize : requested;
  const token = page?.pageToken ?? "";
  if (token === "") return { size };
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw new InvalidArgumentError("page.page_token", "is not a token returned by this list");
  }
  if (!isCursor(decoded)) throw new InvalidArgumentError("page.page_token", "is not a token returned by this list");
  return { size, after: decoded };
}

/** The next_page_token for a page that ended at `cursor` (empty when there is no next page). */
export function pageToken<Cursor>(cursor: Cursor | undefined): string {
  return cursor === undefined ? "" : Buffer.from(JSON.stringify(cursor), "utf8").toString("base64url");
}

/**
 * Splits the rows of a query that asked for `size + 1` rows into the page and the next token.
 */
export function pageOf<Row, Cursor>(
  rows: readonly Row[],
  size: number,
  cursorOf: (row: Row) => Cursor,
): { items: Row[]; nextPageToken: string } {
  const items = rows.slice(0, size);
  const last = items.at(-1);
  return { items, nextPageToken: rows.length > size && last !== undefined ? pageToken(cursorOf(last)) : "" };
}
