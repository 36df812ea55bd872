import pino from "pino";
import { type CatalogProduct, ProductComposer, type ProductLookups } from "../src/product-details";

// The orchestration of the composed product route, with the two lookups as in-memory functions: the
// test is about ordering and fallbacks, not about gRPC (gateway-agora.test.ts covers the real calls).

interface Recorder {
  events: string[];
  lookups: ProductLookups;
  skus: Record<string, string>;
  stock: Record<string, number | "down" | "error">;
}

function recorder(): Recorder {
  const state: Recorder = {
    events: [],
    skus: { kettle: "AG-1" },
    stock: { "AG-1": 4 },
    lookups: {
      getProduct: async (productId): Promise<CatalogProduct> => {
        state.events.push(`product:start:${productId}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
        state.events.push(`product:end:${productId}`);
        const sku = state.skus[productId];
        if (!sku) throw Object.assign(new Error("not found"), { code: 5 });
        return { json: { productId, sku }, sku };
      },
      getStock: async (sku) => {
        state.events.push(`stock:start:${sku}`);
        const level = state.stock[sku];
        if (level === "down") return undefined;
        if (level === "error" || level === undefined) throw new Error(`unknown SKU ${sku}`);
        return { available: level };
      },
    },
  };
  return state;
}

describe("the composed product", () => {
  const logger = pino({ level: "silent" });

  it("asks catalog then inventory the first time, and both at once once the SKU is known", async () => {
    const state = recorder();
    const composer = new ProductComposer(state.lookups, logger);
    expect(await composer.details("kettle")).toEqual({
      product: { productId: "kettle", sku: "AG-1" },
      stock: { status: "IN_STOCK", available: 4 },
    });
    expect(state.events).toEqual(["product:start:kettle", "product:end:kettle", "stock:start:AG-1"]);

    state.events.length = 0;
    await composer.details("kettle");
    // Both lookups are under way before the product lookup finishes.
    expect(state.events.slice(0, 2).sort()).toEqual(["product:start:kettle", "stock:start:AG-1"]);
    expect(state.events[2]).toBe("product:end:kettle");
  });

  it("asks again with the new SKU when the product's SKU changed", async () => {
    const state = recorder();
    const composer = new ProductComposer(state.lookups, logger);
    await composer.details("kettle");
    state.skus.kettle = "AG-2";
    state.stock["AG-2"] = 0;
    state.events.length = 0;
    expect((await composer.details("kettle")).stock).toEqual({ status: "OUT_OF_STOCK", available: 0 });
    expect(state.events.filter((event) => event.startsWith("stock:"))).toEqual([
      "stock:start:AG-1",
      "stock:start:AG-2",
    ]);
  });

  it("marks stock UNKNOWN when inventory is down or fails, and fails only when the catalog does", async () => {
    const state = recorder();
    const composer = new ProductComposer(state.lookups, logger);
    state.stock["AG-1"] = "down";
    expect((await composer.details("kettle")).stock).toEqual({ status: "UNKNOWN" });
    state.stock["AG-1"] = "error";
    expect((await composer.details("kettle")).stock).toEqual({ status: "UNKNOWN" });
    await expect(composer.details("missing")).rejects.toMatchObject({ code: 5 });
  });

  it("remembers a bounded number of SKUs", async () => {
    const state = recorder();
    state.skus = { a: "S-A", b: "S-B", c: "S-C" };
    state.stock = { "S-A": 1, "S-B": 1, "S-C": 1 };
    const composer = new ProductComposer(state.lookups, logger, 2);
    for (const id of ["a", "b", "c"]) await composer.details(id);
    state.events.length = 0;
    await composer.details("a"); // forgotten: sequential again
    expect(state.events).toEqual(["product:start:a", "product:end:a", "stock:start:S-A"]);
  });
});
