import { PriceChangedEvent, ProductCreatedEvent } from "@agora/contracts";
import { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import type { PromiseClient } from "@agora/service-kit";
import {
  createTestDatabase,
  EventProbe,
  ReflectionClient,
  type StartedService,
  startService,
  startTestNats,
  type TestDatabase,
  type TestNats,
} from "@agora/testing";
import * as grpc from "@grpc/grpc-js";
import { demoProducts } from "../src/demo-catalog";
import { catalogService } from "../src/main";

describe("catalog service on a real Postgres database", () => {
  let database: TestDatabase;
  let nats: TestNats;
  let env: Record<string, string>;
  let service: StartedService<unknown, Record<string, unknown>>;
  let catalog: PromiseClient<typeof CatalogServiceService>;
  let events: EventProbe;

  beforeAll(async () => {
    database = await createTestDatabase("catalog");
    nats = await startTestNats();
    env = {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      NATS_SUBJECT_PREFIX: nats.subjectPrefix,
      SEED_DEMO_DATA: "true",
      OUTBOX_POLL_INTERVAL_MS: "100",
    };
    service = await startService(catalogService, env);
    catalog = service.client(CatalogServiceService);
    events = await EventProbe.connect(nats.url, nats.subjectPrefix);
  });

  afterAll(async () => {
    await events.close();
    await service.stop();
    await database.drop();
    await nats.close();
  });

  const page = (pageSize = 0, pageToken = "") => ({ pageSize, pageToken });

  it("seeds the demo catalog once, however often it starts", async () => {
    const again = await startService(catalogService, env);
    await again.stop();
    const all = await catalog.listProducts({ page: page(100), category: "" });
    expect(all.products).toHaveLength(demoProducts.length);
  });

  it("lists products by name, page by page, with a token that reaches every product exactly once", async () => {
    const seen: string[] = [];
    let token = "";
    do {
      const response = await catalog.listProducts({ page: page(7, token), category: "" });
      expect(response.products.length).toBeLessThanOrEqual(7);
      seen.push(...response.products.map((product) => product.name));
      token = response.page?.nextPageToken ?? "";
    } while (token !== "");
    expect(seen).toHaveLength(demoProducts.length);
    expect(seen).toEqual([...seen].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  });

  it("filters by category and returns prices and timestamps", async () => {
    const coffee = await catalog.listProducts({ page: page(), category: "coffee" });
    expect(coffee.products.map((product) => product.productId).sort()).toEqual([
      "burr-grinder",
      "coffee-beans-ethiopia",
      "espresso-machine",
      "pour-over-kettle",
    ]);
    const kettle = coffee.products.find((product) => product.productId === "pour-over-kettle");
    expect(kettle?.price).toEqual({ currencyCode: "EUR", units: 59, nanos: 900_000_000 });
    expect(kettle?.createTime).toBeInstanceOf(Date);
  });

  it("gets one product and a batch in the order asked, one product per requested id", async () => {
    expect((await catalog.getProduct({ productId: "chef-knife" })).product?.sku).toBe("AG-KIT-001");
    const batch = await catalog.batchGetProducts({ productIds: ["headlamp", "chef-knife", "headlamp"] });
    // products[i] answers product_ids[i]: a repeated id is repeated, so callers can zip the two lists.
    expect(batch.products.map((product) => product.productId)).toEqual(["headlamp", "chef-knife", "headlamp"]);
    expect(batch.products[2]).toEqual(batch.products[0]);
  });

  it("searches name, description, category and SKU for every word", async () => {
    const result = await catalog.searchProducts({ query: "cast iron", page: page() });
    expect(result.products.map((product) => product.productId).sort()).toEqual(["cast-iron-skillet", "dutch-oven"]);
    expect((await catalog.searchProducts({ query: "ag-ele-002", page: page() })).products[0]?.productId).toBe(
      "noise-cancelling-headphones",
    );
    expect((await catalog.searchProducts({ query: "100%", page: page() })).products).toEqual([]);
  });

  it("creates products and refuses a taken id or SKU", async () => {
    const request = {
      productId: "bread-knife",
      sku: "AG-KIT-099",
      name: "Bread Knife",
      description: "Serrated.",
      category: "kitchen",
      price: { currencyCode: "EUR", units: 39, nanos: 0 },
      imageUrl: "",
    };
    const created = await catalog.createProduct(request);
    expect(created.product?.productId).toBe("bread-knife");
    await expect(catalog.createProduct(request)).rejects.toMatchObject({ code: grpc.status.ALREADY_EXISTS });
    await expect(catalog.createProduct({ ...request, productId: "other-knife" })).rejects.toMatchObject({
      code: grpc.status.ALREADY_EXISTS,
    });
  });

  it("publishes product_created for every product, seeded ones included, once", async () => {
    const created = await events.waitFor(ProductCreatedEvent, (all) => all.length >= demoProducts.length + 1);
    const ids = created.map((probed) => probed.payload.product?.productId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(["espresso-machine", "bread-knife"]));
    const knife = created.find((probed) => probed.payload.product?.productId === "bread-knife");
    expect(knife?.event).toMatchObject({ aggregateType: "product", aggregateId: "bread-knife", producer: "catalog" });
    expect(knife?.subject).toBe(`${nats.subjectPrefix}agora.catalog.product_created`);
  });

  it("updates a price in the product's currency only", async () => {
    const updated = await catalog.updatePrice({
      productId: "headlamp",
      price: { currencyCode: "EUR", units: 29, nanos: 950_000_000 },
    });
    expect(updated.product?.price).toEqual({ currencyCode: "EUR", units: 29, nanos: 950_000_000 });
    const [changed] = await events.waitFor(PriceChangedEvent, (all) => all.length === 1);
    expect(changed?.payload).toEqual({
      productId: "headlamp",
      sku: "AG-OUT-003",
      oldPrice: { currencyCode: "EUR", units: 34, nanos: 950_000_000 },
      newPrice: { currencyCode: "EUR", units: 29, nanos: 950_000_000 },
    });
    // Version 1 was product_created; the price change is version 2 of the same aggregate.
    expect(changed?.event.aggregateVersion).toBe(2);
    // Setting the same price again changes nothing and publishes nothing.
    await catalog.updatePrice({ productId: "headlamp", price: { currencyCode: "EUR", units: 29, nanos: 950_000_000 } });
    await expect(
      catalog.updatePrice({ productId: "headlamp", price: { currencyCode: "USD", units: 30, nanos: 0 } }),
    ).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
  });

  it("answers NOT_FOUND for unknown ids", async () => {
    await expect(catalog.getProduct({ productId: "no-such-product" })).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
      details: "product no-such-product not found",
    });
    await expect(
      catalog.batchGetProducts({ productIds: ["headlamp", "ghost-1", "ghost-2", "ghost-1"] }),
    ).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
      details: "products not found: ghost-1, ghost-2",
    });
    await expect(
      catalog.updatePrice({ productId: "ghost", price: { currencyCode: "EUR", units: 1, nanos: 0 } }),
    ).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  describe("answers INVALID_ARGUMENT naming the field", () => {
    const cases: Array<[string, () => Promise<unknown>, string]> = [
      ["ListProducts page size", () => catalog.listProducts({ page: page(500), category: "" }), "page.page_size"],
      ["ListProducts token", () => catalog.listProducts({ page: page(0, "bogus"), category: "" }), "page.page_token"],
      ["ListProducts category", () => catalog.listProducts({ page: page(), category: "Not A Slug" }), "category"],
      ["GetProduct id", () => catalog.getProduct({ productId: "" }), "product_id"],
      ["GetProduct malformed id", () => catalog.getProduct({ productId: "DROP TABLE" }), "product_id"],
      ["BatchGetProducts empty", () => catalog.batchGetProducts({ productIds: [] }), "product_ids"],
      ["BatchGetProducts bad id", () => catalog.batchGetProducts({ productIds: ["ok", "Not OK"] }), "product_ids[1]"],
      ["SearchProducts query", () => catalog.searchProducts({ query: " ", page: page() }), "query"],
      ["SearchProducts page", () => catalog.searchProducts({ query: "knife", page: page(-3) }), "page.page_size"],
      [
        "CreateProduct sku",
        () =>
          catalog.createProduct({
            productId: "",
            sku: "lower",
            name: "X",
            description: "",
            category: "x",
            price: { currencyCode: "EUR", units: 1, nanos: 0 },
            imageUrl: "",
          }),
        "sku",
      ],
      [
        "CreateProduct price",
        () =>
          catalog.createProduct({
            productId: "",
            sku: "AG-X-1",
            name: "X",
            description: "",
            category: "x",
            price: undefined,
            imageUrl: "",
          }),
        "price",
      ],
      ["UpdatePrice id", () => catalog.updatePrice({ productId: "", price: undefined }), "product_id"],
      [
        "UpdatePrice currency",
        () => catalog.updatePrice({ productId: "headlamp", price: { currencyCode: "euro", units: 1, nanos: 0 } }),
        "price.currency_code",
      ],
    ];
    it.each(cases)("%s", async (_name, call, field) => {
      const error = (await call().catch((caught: unknown) => caught)) as grpc.ServiceError;
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(error.details.startsWith(`${field}: `)).toBe(true);
    });
  });

  it("serves reflection so `grpcurl describe` and `grpcurl call` work on Product (Timestamp, imported Money)", async () => {
    const reflection = new ReflectionClient(service.address);
    try {
      const described = await reflection.describe("agora.catalog.v1.CatalogService");
      expect(described.kind === "service" && described.methods.map((method) => method.name)).toEqual([
        "ListProducts",
        "GetProduct",
        "BatchGetProducts",
        "SearchProducts",
        "CreateProduct",
        "UpdatePrice",
      ]);
      const response = (await reflection.invoke("agora.catalog.v1.CatalogService/GetProduct", {
        productId: "espresso-machine",
      })) as { product: { price: unknown; createTime: string } };
      expect(response.product.price).toEqual({ currencyCode: "EUR", units: "649" });
      expect(new Date(response.product.createTime).getTime()).toBeGreaterThan(0);
    } finally {
      reflection.close();
    }
  });
});

describe("catalog service with no database configured", () => {
  it("runs on an embedded PGlite database", async () => {
    const nats = await startTestNats();
    const service = await startService(catalogService, {
      SEED_DEMO_DATA: "true",
      NATS_URL: nats.url,
      NATS_SUBJECT_PREFIX: nats.subjectPrefix,
    });
    try {
      const response = await service.client(CatalogServiceService).getProduct({ productId: "espresso-machine" });
      expect(response.product?.name).toBe("Espresso Machine");
    } finally {
      await service.stop();
      await nats.close();
    }
  });
});
