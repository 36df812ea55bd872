import {
  type DescMessage,
  type DescMethod,
  fromBinary,
  fromJson,
  type JsonObject,
  type JsonValue,
  type Registry,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import type { Logger } from "pino";
import type { DownstreamClients } from "./downstreams";
import { HttpError, rethrowAsHttpError } from "./http-errors";
import { type ExtraOperation, schemaRef } from "./openapi";

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

/**
 * The lookups over gRPC: catalog GetProduct, and inventory GetStock with a short deadline and the kit
 * client's fallback (down, timed out, circuit open → undefined, so the stock shows UNKNOWN).
 */
export function grpcProductLookups(options: {
  clients: DownstreamClients;
  registry: Registry;
  getProduct: DescMethod;
  getStock: DescMethod;
  stockTimeoutMs: number;
}): ProductLookups {
  const { clients, registry, getProduct, getStock } = options;
  const getProductPath = `/${getProduct.parent.typeName}/${getProduct.name}`;
  const getStockPath = `/${getStock.parent.typeName}/${getStock.name}`;
  return {
    getProduct: async (productId, metadata) => {
      const request = toBinary(getProduct.input, fromJson(getProduct.input, { productId }, { registry }));
      const bytes = await clients.unary(getProductPath, request, { metadata }).catch(rethrowAsHttpError("catalog"));
      const response = toJson(getProduct.output, fromBinary(getProduct.output, bytes), {
        registry,
        alwaysEmitImplicit: true,
      }) as JsonObject;
      const product = response.product as JsonObject | undefined;
      if (!product) throw new HttpError(502, "INTERNAL", "catalog answered without a product");
      return { json: product, sku: typeof product.sku === "string" ? product.sku : "" };
    },
    getStock: async (sku, metadata) => {
      const request = toBinary(getStock.input, fromJson(getStock.input, { skus: [sku] }, { registry }));
      const unavailable = Buffer.alloc(0);
      const bytes = await clients.unary(getStockPath, request, {
        metadata,
        timeoutMs: options.stockTimeoutMs,
        fallback: () => unavailable,
      });
      if (bytes === unavailable) return undefined;
      const response = toJson(getStock.output, fromBinary(getStock.output, bytes), { registry }) as JsonObject;
      const levels = Array.isArray(response.levels) ? (response.levels as JsonObject[]) : [];
      const level = levels.find((candidate) => candidate.sku === sku) ?? levels[0];
      if (!level) return undefined;
      return {
        available: typeof level.available === "number" ? level.available : 0,
        ...(typeof level.updateTime === "string" ? { updateTime: level.updateTime } : {}),
      };
    },
  };
}

/** The OpenAPI description of the composed route, with its ProductWithStock and StockAvailability schemas. */
export function productOperation(productMessage: DescMessage, path: string): ExtraOperation {
  return {
    method: "get",
    path,
    messages: [productMessage],
    schemas: {
      ProductWithStock: {
        type: "object",
        description: "A product with its live stock (catalog GetProduct + inventory GetStock).",
        required: ["product", "stock"],
        properties: { product: schemaRef(productMessage.typeName), stock: schemaRef("StockAvailability") },
        additionalProperties: false,
      },
      StockAvailability: {
        type: "object",
        description:
          "Live stock. UNKNOWN when inventory could not answer (down, slow, circuit open): the product is still served.",
        required: ["status"],
        properties: {
          status: { type: "string", enum: ["IN_STOCK", "OUT_OF_STOCK", "UNKNOWN"] },
          available: { type: "integer", minimum: 0, description: "Units that can be ordered now (known stock only)." },
          updateTime: { type: "string", format: "date-time", description: "When the stock last changed." },
        },
        additionalProperties: false,
      },
    },
    operation: {
      operationId: "GetProductWithStock",
      summary: "Returns a product with its live stock.",
      description:
        "API composition: the product from catalog GetProduct and its stock from inventory GetStock (by the product's " +
        "SKU). When inventory fails, is down or its circuit is open, the product is still returned with stock " +
        '{"status":"UNKNOWN"}.\n\nPublic: no token needed.',
      tags: ["CatalogService"],
      parameters: [
        {
          name: "product_id",
          in: "path",
          required: true,
          description: "Id of the product.",
          schema: { type: "string" },
        },
      ],
      responses: {
        "200": { description: "Success.", content: { "application/json": { schema: schemaRef("ProductWithStock") } } },
        ...Object.fromEntries(
          ["400", "404", "429", "500", "503", "504"].map((code) => [
            code,
            { $ref: `#/components/responses/Error${code}` },
          ]),
        ),
      },
      security: [{}, { bearerAuth: [] }],
      "x-agora-access": "public",
    },
  };
}
