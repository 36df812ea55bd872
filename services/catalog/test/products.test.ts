import { InvalidArgumentError } from "@agora/service-kit";
import { generateProductId, isProductCursor, searchWords, validateNewProduct } from "../src/products";

const valid = {
  productId: "",
  sku: "AG-KIT-099",
  name: "Bread Knife",
  description: "Serrated, 22 cm.",
  category: "kitchen",
  price: { currencyCode: "EUR", units: 39, nanos: 900_000_000 },
  imageUrl: "https://images.agora.example/products/bread-knife.jpg",
};

describe("validateNewProduct", () => {
  it("accepts a valid product and generates a readable id when none is given", () => {
    const product = validateNewProduct(valid);
    expect(product.productId).toMatch(/^bread-knife-[0-9a-f]{6}$/);
    expect(product.price).toEqual({ currency: "EUR", nanos: 39_900_000_000n });
  });

  it.each([
    [{ name: "" }, "name: is required"],
    [{ sku: "ag-kit" }, "sku: must be upper case"],
    [{ productId: "Bread Knife" }, "product_id: must be lower case"],
    [{ category: "Kitchen Stuff" }, "category: must be a slug"],
    [{ price: undefined }, "price: is required"],
    [{ price: { currencyCode: "EUR", units: -1, nanos: 0 } }, "price: must be positive"],
    [{ imageUrl: "ftp://x/y.jpg" }, "image_url: must be an absolute http(s) URL"],
    [{ description: "x".repeat(4001) }, "description: must have at most 4000 characters"],
  ])("rejects %j naming the field", (change, message) => {
    expect(() => validateNewProduct({ ...valid, ...change })).toThrow(InvalidArgumentError);
    expect(() => validateNewProduct({ ...valid, ...change })).toThrow(message);
  });
});

describe("helpers", () => {
  it("slugs names into ids", () => {
    expect(generateProductId("Crème Brûlée Torch!")).toMatch(/^creme-brulee-torch-[0-9a-f]{6}$/);
    expect(generateProductId("!!!")).toMatch(/^product-[0-9a-f]{6}$/);
  });

  it("splits search queries into distinct lower-case words", () => {
    expect(searchWords("  Cast IRON cast ")).toEqual(["cast", "iron"]);
    expect(() => searchWords("")).toThrow("query: is required");
    expect(() => searchWords("a b c d e f g h i j k")).toThrow("query: must have at most 10 words");
  });

  it("recognises product cursors", () => {
    expect(isProductCursor({ name: "A", productId: "a" })).toBe(true);
    expect(isProductCursor({ name: "A" })).toBe(false);
  });
});
