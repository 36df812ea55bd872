import { randomBytes } from "node:crypto";
import type { CreateProductRequest } from "@agora/contracts/agora/catalog/v1/catalog_service";
import type { Product } from "@agora/contracts/agora/catalog/v1/product";
import { type Amount, check, InvalidArgumentError, money } from "@agora/service-kit";
import type { ProductRow } from "./db/schema";

/** A product as the domain validated it, ready to store. */
export interface NewProduct {
  productId: string;
  sku: string;
  name: string;
  description: string;
  category: string;
  price: Amount;
  imageUrl: string;
}

/** Where a product list page stopped: the last (name, id) shown. Lists are ordered by name, then id. */
export interface ProductCursor {
  name: string;
  productId: string;
}

export const productIdPattern = /^[a-z0-9]+(-[a-z0-9]+)*$/;
export const skuPattern = /^[A-Z0-9]+(-[A-Z0-9]+)*$/;
const categoryPattern = productIdPattern;

/** Checks a product id from a request (lower case letters, digits and dashes, at most 64). */
export function validateProductId(field: string, value: string | undefined): string {
  const id = check.pattern(
    field,
    value,
    productIdPattern,
    "lower case letters, digits and dashes, e.g. espresso-machine",
  );
  if (id.length > 64) throw new InvalidArgumentError(field, "must have at most 64 characters");
  return id;
}

/** Checks a category filter or value (a slug such as "kitchen"). */
export function validateCategory(field: string, value: string | undefined): string {
  const category = check.pattern(field, value, categoryPattern, "a slug of lower case letters, digits and dashes");
  if (category.length > 40) throw new InvalidArgumentError(field, "must have at most 40 characters");
  return category;
}

/** A readable id from the name with a random suffix, e.g. "espresso-machine-3f9a1c". */
export function generateProductId(name: string): string {
  const slug = name
    .normalize("NFKD")
    .replace(/\p{Mark}/gu, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 48)
    .replace(/-+$/, "");
  return `${slug || "product"}-${randomBytes(3).toString("hex")}`;
}

/** Validates a CreateProduct request into a {@link NewProduct}, naming the first bad field. */
export function validateNewProduct(request: CreateProductRequest): NewProduct {
  const name = check.text("name", request.name, { max: 200 });
  const sku = check.pattern("sku", request.sku, skuPattern, "upper case letters, digits and dashes, e.g. AG-KIT-001");
  if (sku.length > 40) throw new InvalidArgumentError("sku", "must have at most 40 characters");
  const imageUrl = check.optionalText("image_url", request.imageUrl, { max: 2000 });
  if (imageUrl !== "" && !isHttpUrl(imageUrl))
    throw new InvalidArgumentError("image_url", "must be an absolute http(s) URL");
  return {
    productId: request.productId ? validateProductId("product_id", request.productId) : generateProductId(name),
    sku,
    name,
    description: check.optionalText("description", request.description, { max: 4000 }),
    category: validateCategory("category", request.category),
    price: money.validateMoney("price", request.price),
    imageUrl,
  };
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

/** Splits a search query into lower-case words (1 to 10 of them). */
export function searchWords(query: string | undefined): string[] {
  const text = check.text("query", query, { max: 200 });
  const words = [...new Set(text.toLowerCase().split(/\s+/).filter(Boolean))];
  if (words.length > 10) throw new InvalidArgumentError("query", "must have at most 10 words");
  return words;
}

/** Type guard for page tokens of product lists. */
export function isProductCursor(value: unknown): value is ProductCursor {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ProductCursor).name === "string" &&
    typeof (value as ProductCursor).productId === "string"
  );
}

/** The proto Product for a stored row. */
export function toProduct(row: ProductRow): Product {
  return {
    productId: row.productId,
    sku: row.sku,
    name: row.name,
    description: row.description,
    category: row.category,
    price: money.toMoney({ currency: row.priceCurrency, nanos: row.priceNanos }),
    imageUrl: row.imageUrl,
    createTime: row.createdAt,
    updateTime: row.updatedAt,
  };
}
