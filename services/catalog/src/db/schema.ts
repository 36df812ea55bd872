import { bigint, index, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Products for sale. Prices are exact: a whole number of nanos (billionths) of the currency unit.
 * Search scans with ILIKE, which is fine at catalog sizes in the thousands; a larger catalog would add
 * a pg_trgm GIN index or a search engine fed from product events.
 */
export const products = pgTable(
  "products",
  {
    productId: text("product_id").primaryKey(),
    sku: text("sku").notNull().unique(),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    category: text("category").notNull(),
    priceCurrency: text("price_currency").notNull(),
    priceNanos: bigint("price_nanos", { mode: "bigint" }).notNull(),
    imageUrl: text("image_url").notNull().default(""),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  },
  (table) => [
    index("products_name_idx").on(table.name, table.productId),
    index("products_category_name_idx").on(table.category, table.name, table.productId),
  ],
);

export type ProductRow = typeof products.$inferSelect;
export type NewProductRow = typeof products.$inferInsert;
