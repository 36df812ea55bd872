import { descriptorSetBytes } from "@agora/contracts";
import { registryFromDescriptorSet } from "../src/descriptors";
import { buildOpenApiDocument, type OpenApiObject } from "../src/openapi";
import { routesFromRegistry } from "../src/route-table";
import { OpenApiSchemas } from "./support/openapi-validator";

type Operation = {
  operationId: string;
  summary: string;
  description: string;
  tags: string[];
  parameters: Array<{ name: string; in: string; required?: boolean; schema: object }>;
  requestBody?: { content: Record<string, { schema: object }> };
  responses: Record<string, { $ref?: string; content?: Record<string, { schema: object }> }>;
  security: Array<Record<string, string[]>>;
};

const routes = routesFromRegistry(registryFromDescriptorSet(descriptorSetBytes()));
const document = buildOpenApiDocument({ routes, version: "test" }) as OpenApiObject & {
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, object>;
    responses: Record<string, object>;
    securitySchemes: Record<string, object>;
  };
  tags: Array<{ name: string }>;
};

function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) refsIn(item, found);
  else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key === "$ref" && typeof item === "string") found.push(item);
      else refsIn(item, found);
    }
  }
  return found;
}

function resolve(ref: string): unknown {
  return ref
    .replace(/^#\//, "")
    .split("/")
    .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], document);
}

const operations = Object.entries(document.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, operation]) => ({ path, method, operation })),
);

describe("the OpenAPI document generated from proto/", () => {
  it("is OpenAPI 3.1 with one operation per annotated RPC and unique operation ids", () => {
    expect(document.openapi).toBe("3.1.0");
    expect(operations).toHaveLength(routes.length);
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain("OrderService_PlaceOrder");
    for (const { operation } of operations) {
      expect(operation.summary).not.toBe("");
      for (const tag of operation.tags) expect(document.tags.map((item) => item.name)).toContain(tag);
    }
  });

  it("declares every path variable as a required path parameter, and no other", () => {
    for (const { path, operation } of operations) {
      const variables = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]);
      const declared = operation.parameters.filter((parameter) => parameter.in === "path");
      expect(declared.map((parameter) => parameter.name)).toEqual(variables);
      for (const parameter of declared) expect(parameter.required).toBe(true);
    }
  });

  it("resolves every $ref and passes every component schema through the JSON Schema 2020-12 meta-schema", () => {
    for (const ref of refsIn(document)) expect([ref, resolve(ref) !== undefined]).toEqual([ref, true]);
    const schemas = new OpenApiSchemas(document);
    for (const [name, schema] of Object.entries(document.components.schemas)) {
      expect([name, schemas.metaErrors(schema)]).toEqual([name, ""]);
    }
    for (const { operation } of operations) {
      for (const parameter of operation.parameters) expect(schemas.metaErrors(parameter.schema)).toBe("");
      for (const media of Object.values(operation.requestBody?.content ?? {}))
        expect(schemas.metaErrors(media.schema)).toBe("");
    }
  });

  it("describes the proto3 JSON shape with descriptions from the proto comments", () => {
    const schemas = new OpenApiSchemas(document);
    const product = document.components.schemas["agora.catalog.v1.Product"] as {
      description: string;
      properties: Record<string, { description?: string; format?: string }>;
    };
    expect(product.description).toBe("A product that Agora sells.");
    expect(Object.keys(product.properties)).toContain("imageUrl");
    expect(product.properties.createTime?.format).toBe("date-time");
    expect(product.properties.sku?.description).toMatch(/^Stock keeping unit/);
    expect(
      schemas.errors("agora.order.v1.Order", {
        orderId: "o-1",
        status: "ORDER_STATUS_CONFIRMED",
        total: { currencyCode: "EUR", units: "12", nanos: 500000000 },
        createTime: "2026-11-23T09:00:00Z",
      }),
    ).toBe("");
    expect(schemas.errors("agora.order.v1.Order", { status: "CONFIRMED" })).toMatch(/allowed values/);
    expect(schemas.errors("agora.order.v1.Order", { total: { units: 12 } })).toMatch(/must be string/);
    expect(schemas.errors("agora.order.v1.Order", { colour: "red" })).toMatch(/additional properties/);
  });

  it("shows parameters, bodies and security per route", () => {
    const listProducts = document.paths["/v1/products"]?.get;
    expect(listProducts?.parameters.map((parameter) => parameter.name)).toEqual([
      "page.pageSize",
      "page.pageToken",
      "category",
    ]);
    expect(listProducts?.security).toEqual([{}, { bearerAuth: [] }]);

    const placeOrder = document.paths["/v1/orders"]?.post;
    expect(placeOrder?.security).toEqual([{ bearerAuth: [] }]);
    expect(placeOrder?.parameters.map((parameter) => `${parameter.in}:${parameter.name}`)).toEqual([
      "header:Idempotency-Key",
    ]);
    const body = placeOrder?.requestBody?.content["application/json"]?.schema as {
      properties: Record<string, unknown>;
    };
    // The customer comes from the token, so it is not part of the documented body.
    expect(Object.keys(body.properties).sort()).toEqual(["card", "idempotencyKey", "lines", "shippingAddress"]);
    expect(Object.keys(placeOrder?.responses ?? {})).toEqual(
      expect.arrayContaining(["202", "400", "401", "409", "429"]),
    );

    const listOrders = document.paths["/v1/orders"]?.get;
    expect(listOrders?.parameters.map((parameter) => parameter.name)).not.toContain("customerId");
    expect(document.paths["/v1/admin/products"]?.post?.responses["403"]).toEqual({
      $ref: "#/components/responses/Error403",
    });
    expect(document.paths["/v1/products"]?.get?.responses["401"]).toBeUndefined();

    const events = document.paths["/v1/orders/{order_id}/events"]?.get;
    expect(Object.keys(events?.responses["200"]?.content ?? {})).toEqual(["text/event-stream"]);
    expect(document.components.securitySchemes.bearerAuth).toMatchObject({
      type: "http",
      scheme: "bearer",
      bearerFormat: "JWT",
    });
  });
});
