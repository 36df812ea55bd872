import {
  AlreadyExistsError,
  type Amount,
  type Db,
  FailedPreconditionError,
  NotFoundError,
  type Page,
  type Tx,
} from "@agora/service-kit";
import { and, asc, eq, gt, ilike, inArray, or, type SQL } from "drizzle-orm";
import { type NewProductRow, type ProductRow, products } from "./db/schema";
import type { NewProduct, ProductCursor } from "./products";

type Schema = { products: typeof products };

/**
 * What happens, in the same transaction, when products are created or repriced: main.ts records the
 * catalog's events in the outbox here.
 */
export interface ProductEvents {
  created(tx: Tx<Schema>, product: ProductRow): Promise<void>;
  priceChanged(tx: Tx<Schema>, before: ProductRow, after: ProductRow): Promise<void>;
}

function after(cursor: ProductCursor | undefined): SQL | undefined {
  if (!cursor) return undefined;
  return or(
    gt(products.name, cursor.name),
    and(eq(products.name, cursor.name), gt(products.productId, cursor.productId)),
  );
}

function rowOf(product: NewProduct): NewProductRow {
  return {
    productId: product.productId,
    sku: product.sku,
    name: product.name,
    description: product.description,
    category: product.category,
    priceCurrency: product.price.currency,
    priceNanos: product.price.nanos,
    imageUrl: product.imageUrl,
  };
}

function escapeLike(word: string): string {
  return word.replace(/[\\%_]/g, (character) => `\\${character}`);
}

/** Reads and writes products. Pages are keyset-based: ordered by (name, product_id). */
export class ProductStore {
  constructor(
    private readonly db: Db<Schema>,
    private readonly events: ProductEvents,
  ) {}

  /** One page of products, optionally within a category; asks for one extra row to know if more follow. */
  list(page: Page<ProductCursor>, category: string | undefined): Promise<ProductRow[]> {
    return this.db
      .select()
      .from(products)
      .where(and(category ? eq(products.category, category) : undefined, after(page.after)))
      .orderBy(asc(products.name), asc(products.productId))
      .limit(page.size + 1);
  }

  /** Products whose name, description, category or SKU contain every word. */
  search(words: readonly string[], page: Page<ProductCursor>): Promise<ProductRow[]> {
    const matches = words.map((word) => {
      const pattern = `%${escapeLike(word)}%`;
      return or(
        ilike(products.name, pattern),
        ilike(products.description, pattern),
        ilike(products.category, pattern),
        ilike(products.sku, pattern),
      );
    });
    return this.db
      .select()
      .from(products)
      .where(and(...matches, after(page.after)))
      .orderBy(asc(products.name), asc(products.productId))
      .limit(page.size + 1);
  }

  /** The product or NOT_FOUND. */
  async get(productId: string): Promise<ProductRow> {
    const [row] = await this.db.select().from(products).where(eq(products.productId, productId));
    if (!row) throw new NotFoundError(`product ${productId} not found`);
    return row;
  }

  /** The products in the order asked, or NOT_FOUND naming every missing id. */
  async batchGet(productIds: readonly string[]): Promise<ProductRow[]> {
    const rows = await this.db
      .select()
      .from(products)
      .where(inArray(products.productId, [...productIds]));
    const byId = new Map(rows.map((row) => [row.productId, row]));
    const missing = [...new Set(productIds.filter((id) => !byId.has(id)))];
    if (missing.length > 0) throw new NotFoundError(`products not found: ${missing.join(", ")}`);
    return productIds.map((id) => byId.get(id) as ProductRow);
  }

  /** Stores a new product; ALREADY_EXISTS when its id or SKU is taken. */
  async create(product: NewProduct): Promise<ProductRow> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.insert(products).values(rowOf(product)).onConflictDoNothing().returning();
      if (!row) {
        throw new AlreadyExistsError(`a product with id ${product.productId} or SKU ${product.sku} exists already`);
      }
      await this.events.created(tx, row);
      return row;
    });
  }

  /**
   * Sets a product's price; the currency must stay the same. Returns the row before and after, so the
   * caller can tell an actual change from a repeated request.
   */
  async updatePrice(productId: string, price: Amount): Promise<{ before: ProductRow; after: ProductRow }> {
    return this.db.transaction(async (tx) => {
      const [before] = await tx.select().from(products).where(eq(products.productId, productId)).for("update");
      if (!before) throw new NotFoundError(`product ${productId} not found`);
      if (before.priceCurrency !== price.currency) {
        throw new FailedPreconditionError(
          `product ${productId} is priced in ${before.priceCurrency}; a price in ${price.currency} cannot replace it`,
        );
      }
      if (before.priceNanos === price.nanos) return { before, after: before };
      const [updated] = await tx
        .update(products)
        .set({ priceNanos: price.nanos, updatedAt: new Date() })
        .where(eq(products.productId, productId))
        .returning();
      await this.events.priceChanged(tx, before, updated as ProductRow);
      return { before, after: updated as ProductRow };
    });
  }

  /** Inserts products that do not exist yet (by id or SKU); returns how many were added. */
  async insertMissing(items: readonly NewProduct[]): Promise<number> {
    if (items.length === 0) return 0;
    return this.db.transaction(async (tx) => {
      const inserted = await tx.insert(products).values(items.map(rowOf)).onConflictDoNothing().returning();
      for (const row of inserted) await this.events.created(tx, row);
      return inserted.length;
    });
  }
}
