import { type Clock, systemClock } from "./arrivals";
import { errorMessage } from "./errors";
import type { CatalogSnapshot } from "./flows";
import type { ProductRef, ShopApi } from "./shop-api";

/** Words of product names worth searching for: four letters or more, lower case, distinct, at most 50. */
export function searchTermsOf(products: readonly ProductRef[]): string[] {
  const words = new Set<string>();
  for (const product of products) {
    for (const word of product.name.toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
      if (word.length >= 4) words.add(word);
    }
  }
  return [...words].sort().slice(0, 50);
}

/**
 * Reads the catalog through the API (pages of 100, up to `maxProducts`), keeping only `only` when
 * given. Throws when nothing is left to order: the flows need products.
 */
export async function readCatalog(
  api: ShopApi,
  options: { only?: readonly string[]; maxProducts?: number } = {},
): Promise<CatalogSnapshot> {
  const maxProducts = options.maxProducts ?? 1000;
  const products: ProductRef[] = [];
  let pageToken = "";
  do {
    const page = await api.listProducts({ pageSize: 100, pageToken });
    products.push(...page.products);
    pageToken = page.nextPageToken;
  } while (pageToken !== "" && products.length < maxProducts);
  let chosen = products;
  if (options.only && options.only.length > 0) {
    const wanted = new Set(options.only);
    chosen = products.filter((product) => wanted.has(product.productId));
    const missing = options.only.filter((id) => !chosen.some((product) => product.productId === id));
    if (missing.length > 0) throw new Error(`--products not in the catalog: ${missing.join(", ")}`);
  }
  if (chosen.length === 0) {
    throw new Error("the catalog is empty: seed it (SEED_DEMO_DATA=true, as `./agora up` does) or create products");
  }
  const categories = [...new Set(chosen.map((product) => product.category).filter((category) => category !== ""))];
  return { products: chosen, categories: categories.sort(), searchTerms: searchTermsOf(chosen) };
}

/**
 * {@link readCatalog}, retried every second for up to `waitMs` while the target is not answering yet
 * (a Kubernetes Job may start before the gateway is ready). Errors other than "not ready" are not retried.
 */
export async function waitForCatalog(
  api: ShopApi,
  options: {
    only?: readonly string[];
    waitMs: number;
    clock?: Clock;
    signal?: AbortSignal;
    onRetry?: (message: string) => void;
  },
): Promise<CatalogSnapshot> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + options.waitMs;
  for (;;) {
    try {
      return await readCatalog(api, { only: options.only });
    } catch (error) {
      const retryable = /^(net:|timeout|http:5|http:429|grpc:(UNAVAILABLE|DEADLINE_EXCEEDED))/.test(
        (error as { code?: string }).code ?? "",
      );
      if (!retryable || clock.now() + 1000 > deadline || options.signal?.aborted) {
        throw new Error(`cannot read the catalog from ${api.target}: ${errorMessage(error)}`);
      }
      options.onRetry?.(errorMessage(error));
      await clock.sleep(1000, options.signal);
    }
  }
}
