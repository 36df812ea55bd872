import type { JsonValue } from "@bufbuild/protobuf";
import type { Logger } from "pino";

/** Stock of a product as the composed product route shows it. */
export type StockAvailability =
  | { status: "IN_STOCK"; available: number; updateTime?: string }
  | { status: "OUT_OF_STOCK"; available: 0; updateTime?: string }
  | { status: "UNKNOWN" };

/** The body of `GET /v1/products/{product_id}`. */
export interface ProductDetails {
  /** The catalog's Product in proto3 JSON. */
  product: JsonValue;
  stock: StockAvailability;
}

/** A product as the catalog returned it, with the SKU needed to ask inventory. */
export interface CatalogProduct {
  json: JsonValue;
  sku: string;
}

/** The lookups the composition needs; each rejects with the downstream's error. */
export interface ProductLookups {
  /** catalog GetProduct, with the caller's gRPC metadata. */
  getProduct(productId: string, metadata: Record<string, string>): Promise<CatalogProduct>;
  /**
   * inventory GetStock for one SKU; resolves undefined when inventory cannot answer (down, timed out,
   * circuit open: the kit client's fallback) and rejects for other errors.
   */
  getStock(
    sku: string,
    metadata: Record<string, string>,
  ): Promise<{ available: number; updateTime?: string } | undefined>;
}

const unknownStock: StockAvailability = { status: "UNKNOWN" };

/**
 * API composition for the product page: the catalog's product with its live stock from inventory.
 * The SKU comes from the product, so the first request for a product asks catalog then inventory;
 * the SKU is remembered (product ids and SKUs do not change), so later requests ask both in parallel.
 * Inventory failing never fails the page: the stock is then `{"status":"UNKNOWN"}`.
 */
export class ProductComposer {
  private readonly skuByProduct = new Map<string, string>();

  constructor(
    private readonly lookups: ProductLookups,
    private readonly logger: Logger,
    private readonly maxRememberedSkus = 10_000,
  ) {}

  private async stockOf(sku: string, metadata: Record<string, string>): Promise<StockAvailability> {
    try {
      const level = await this.lookups.getStock(sku, metadata);
      if (!level) return unknownStock;
      const time = level.updateTime ? { updateTime: level.updateTime } : {};
      return level.available > 0
        ? { status: "IN_STOCK", available: level.available, ...time }
        : { status: "OUT_OF_STOCK", available: 0, ...time };
    } catch (error) {
      this.logger.warn({ err: error, sku }, "stock lookup failed; showing the product with unknown stock");
      return unknownStock;
    }
  }

  private remember(productId: string, sku: string): void {
    if (this.skuByProduct.size >= this.maxRememberedSkus && !this.skuByProduct.has(productId)) {
      const oldest = this.skuByProduct.keys().next().value;
      if (oldest !== undefined) this.skuByProduct.delete(oldest);
    }
    this.skuByProduct.set(productId, sku);
  }

  /** The product with its stock; rejects only when the catalog lookup fails. */
  async details(productId: string, metadata: Record<string, string> = {}): Promise<ProductDetails> {
    const knownSku = this.skuByProduct.get(productId);
    const earlyStock = knownSku === undefined ? undefined : this.stockOf(knownSku, metadata);
    // Do not leave the parallel stock lookup unobserved when the product lookup fails.
    earlyStock?.catch(() => {});
    const product = await this.lookups.getProduct(productId, metadata);
    this.remember(productId, product.sku);
    const stock = earlyStock && knownSku === product.sku ? await earlyStock : await this.stockOf(product.sku, metadata);
    return { product: product.json, stock };
  }
}
