import type { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import { CatalogServiceService as Definition } from "@agora/contracts/agora/catalog/v1/catalog_service";
import { defineService, type ServiceHandlers } from "../../src";

/**
 * A catalog stand-in for kit tests: the real CatalogService contract with handlers each test sets,
 * so tests exercise the kit's server and clients without a database.
 */
export type CatalogHandlers = ServiceHandlers<typeof CatalogServiceService>;

const unimplemented = async (): Promise<never> => {
  throw new Error("not set by this test");
};

export function fakeCatalogService(handlers: Partial<CatalogHandlers>) {
  const all: CatalogHandlers = {
    listProducts: unimplemented,
    getProduct: unimplemented,
    batchGetProducts: unimplemented,
    searchProducts: unimplemented,
    createProduct: unimplemented,
    updatePrice: unimplemented,
    ...handlers,
  };
  return defineService({
    name: "fake-catalog",
    ports: { grpc: 0, metrics: 0 },
    setup: ({ bind }) => ({ grpc: [bind(Definition, all)] }),
  });
}

/** A product with the fields ts-proto requires. */
export function sampleProduct(productId = "sample") {
  return {
    productId,
    sku: "AG-TST-001",
    name: "Sample",
    description: "",
    category: "test",
    price: { currencyCode: "EUR", units: 12, nanos: 500_000_000 },
    imageUrl: "",
    createTime: new Date("2026-01-02T03:04:05Z"),
    updateTime: new Date("2026-01-02T03:04:05Z"),
  };
}
