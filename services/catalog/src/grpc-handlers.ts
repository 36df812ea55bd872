import type { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import { check, money, pageOf, readPage, type ServiceHandlers } from "@agora/service-kit";
import type { ProductRow } from "./db/schema";
import type { ProductStore } from "./product-store";
import {
  isProductCursor,
  type ProductCursor,
  searchWords,
  toProduct,
  validateCategory,
  validateNewProduct,
  validateProductId,
} from "./products";

const cursorOf = (row: ProductRow): ProductCursor => ({ name: row.name, productId: row.productId });

/** The CatalogService RPCs: validate the request, call the store, map rows to protos. */
export function catalogHandlers(store: ProductStore): ServiceHandlers<typeof CatalogServiceService> {
  return {
    async listProducts(request) {
      const page = readPage(request.page, isProductCursor);
      const category = request.category ? validateCategory("category", request.category) : undefined;
      const { items, nextPageToken } = pageOf(await store.list(page, category), page.size, cursorOf);
      return { products: items.map(toProduct), page: { nextPageToken } };
    },

    async getProduct(request) {
      return { product: toProduct(await store.get(validateProductId("product_id", request.productId))) };
    },

    async batchGetProducts(request) {
      const ids = check.list("product_ids", request.productIds, { min: 1, max: 100 });
      const validIds = ids.map((id, index) => validateProductId(`product_ids[${index}]`, id));
      // One product per requested id, position for position: an id asked twice comes back twice.
      return { products: (await store.batchGet(validIds)).map(toProduct) };
    },

    async searchProducts(request) {
      const words = searchWords(request.query);
      const page = readPage(request.page, isProductCursor);
      const { items, nextPageToken } = pageOf(await store.search(words, page), page.size, cursorOf);
      return { products: items.map(toProduct), page: { nextPageToken } };
    },

    async createProduct(request) {
      return { product: toProduct(await store.create(validateNewProduct(request))) };
    },

    async updatePrice(request) {
      const productId = validateProductId("product_id", request.productId);
      const price = money.validateMoney("price", request.price);
      const { after } = await store.updatePrice(productId, price);
      return { product: toProduct(after) };
    },
  };
}
