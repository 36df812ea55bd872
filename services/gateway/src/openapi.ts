import { type DescEnum, type DescField, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { leadingComment } from "./descriptors";
import { hasSpecialJson } from "./message-json";
import type { HttpRoute } from "./route-table";

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it) or any other OpenAPI object. */
export type OpenApiObject = { [key: string]: unknown };

/** A route added by hand (the composed product route), described for the document. */
export interface ExtraOperation {
  method: "get" | "post";
  path: string;
  operation: OpenApiObject;
  /** Component schemas the operation references, by name. */
  schemas: Record<string, OpenApiObject>;
  /** Messages the schemas reference (so their components are generated too). */
  messages: DescMessage[];
}

/** Options of {@link buildOpenApiDocument}. */
export interface OpenApiOptions {
  routes: readonly HttpRoute[];
  extraOperations?: readonly ExtraOperation[];
  version: string;
}

const errorResponses: Record<string, string> = {
  "400": "The request does not fit the RPC: malformed JSON, unknown field, wrong type (the message names the field).",
  "401": "No valid access token (missing, malformed, bad signature, expired, unknown key).",
  "403": "The token lacks the role this route needs.",
  "404": "Not found, or it belongs to another customer.",
  "409": "Conflicts with the current state (ALREADY_EXISTS, ABORTED, FAILED_PRECONDITION).",
  "429": "Rate limit exceeded; see Retry-After.",
  "500": "Unexpected error; the request id finds it in the logs.",
  "503": "A service behind the gateway is unavailable; retry with backoff.",
  "504": "A service behind the gateway did not answer in time.",
};

/** `#/components/schemas/<name>`. */
export function schemaRef(name: string): OpenApiObject {
  return { $ref: `#/components/schemas/${name}` };
}

function wellKnownSchema(message: DescMessage): OpenApiObject {
  switch (message.typeName) {
    case "google.protobuf.Timestamp":
      return { type: "string", format: "date-time", description: "RFC 3339 timestamp, e.g. 2026-11-23T09:00:00Z." };
    case "google.protobuf.Duration":
      return {
        type: "string",
        pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$",
        description: 'Duration in seconds, e.g. "1.5s".',
      };
    case "google.protobuf.FieldMask":
      return { type: "string", description: "Comma-separated lowerCamelCase field paths." };
    case "google.protobuf.Struct":
      return { type: "object" };
    case "google.protobuf.Value":
      return {};
    case "google.protobuf.ListValue":
      return { type: "array" };
    case "google.protobuf.Any":
      return { type: "object", required: ["@type"], properties: { "@type": { type: "string" } } };
    case "google.protobuf.BoolValue":
      return { type: ["boolean", "null"] };
    case "google.protobuf.StringValue":
      return { type: ["string", "null"] };
    case "google.protobuf.BytesValue":
      return { type: ["string", "null"], contentEncoding: "base64" };
    case "google.protobuf.DoubleValue":
    case "google.protobuf.FloatValue":
      return { type: ["number", "null"] };
    case "google.protobuf.Int32Value":
    case "google.protobuf.UInt32Value":
      return { type: ["integer", "null"] };
    default:
      return { type: ["string", "null"], pattern: "^-?[0-9]+$" };
  }
}

function scalarSchema(type: ScalarType): OpenApiObject {
  switch (type) {
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "int32", minimum: 0 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return {
        type: "string",
        format: "int64",
        pattern: "^-?[0-9]+$",
        description: "64-bit integer as a decimal string.",
      };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return {
        type: "string",
        format: "uint64",
        pattern: "^[0-9]+$",
        description: "64-bit integer as a decimal string.",
      };
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64" };
    default:
      return { type: "string" };
  }
}

/** Builds component schemas for messages and enums, on demand. */
class SchemaCollector {
  readonly schemas: Record<string, OpenApiObject> = {};
  private readonly pending: Array<DescMessage | DescEnum> = [];

  refMessage(message: DescMessage): OpenApiObject {
    if (hasSpecialJson(message)) return wellKnownSchema(message);
    if (!(message.typeName in this.schemas)) {
      this.schemas[message.typeName] = {};
      this.pending.push(message);
    }
    return schemaRef(message.typeName);
  }

  refEnum(enumDesc: DescEnum): OpenApiObject {
    if (enumDesc.typeName === "google.protobuf.NullValue") return { type: "null" };
    if (!(enumDesc.typeName in this.schemas)) {
      this.schemas[enumDesc.typeName] = {};
      this.pending.push(enumDesc);
    }
    return schemaRef(enumDesc.typeName);
  }

  singular(field: DescField, kind: "scalar" | "enum" | "message"): OpenApiObject {
    if (kind === "message" && field.message) return this.refMessage(field.message);
    if (kind === "enum" && field.enum) return this.refEnum(field.enum);
    return scalarSchema(field.scalar ?? ScalarType.STRING);
  }

  fieldSchema(field: DescField): OpenApiObject {
    let schema: OpenApiObject;
    switch (field.fieldKind) {
      case "scalar":
        schema = scalarSchema(field.scalar);
        break;
      case "enum":
        schema = this.refEnum(field.enum);
        break;
      case "message":
        schema = this.refMessage(field.message);
        break;
      case "list":
        schema = { type: "array", items: this.singular(field, field.listKind) };
        break;
      case "map":
        schema = { type: "object", additionalProperties: this.singular(field, field.mapKind) };
        break;
    }
    const comment = leadingComment(field);
    if (comment) {
      const existing = typeof schema.description === "string" ? ` ${schema.description}` : "";
      schema = { ...schema, description: `${comment}${existing}` };
    }
    return schema;
  }

  messageSchema(message: DescMessage, omit: ReadonlySet<DescField> = new Set()): OpenApiObject {
    const properties: Record<string, OpenApiObject> = {};
    for (const field of message.fields) {
      if (!omit.has(field)) properties[field.jsonName] = this.fieldSchema(field);
    }
    const comment = leadingComment(message);
    return {
      type: "object",
      ...(comment ? { description: comment } : {}),
      properties,
      additionalProperties: false,
    };
  }

  /** Fills in every component referenced so far (and what they reference). */
  drain(): void {
    for (let next = this.pending.shift(); next; next = this.pending.shift()) {
      if (next.kind === "message") {
        this.schemas[next.typeName] = this.messageSchema(next);
      } else {
        const comment = leadingComment(next);
        this.schemas[next.typeName] = {
          type: "string",
          enum: next.values.map((value) => value.name),
          ...(comment ? { description: comment } : {}),
        };
      }
    }
  }
}

function queryParameters(
  collector: SchemaCollector,
  message: DescMessage,
  omit: ReadonlySet<DescField>,
  prefix = "",
  depth = 0,
  seen: ReadonlySet<string> = new Set(),
): OpenApiObject[] {
  const parameters: OpenApiObject[] = [];
  for (const field of message.fields) {
    if (omit.has(field)) continue;
    const name = `${prefix}${field.jsonName}`;
    const description = leadingComment(field);
    const withDescription = (schema: OpenApiObject): OpenApiObject => ({
      name,
      in: "query",
      required: false,
      ...(description ? { description } : {}),
      schema,
    });
    if (field.fieldKind === "message") {
      if (hasSpecialJson(field.message)) parameters.push(withDescription(wellKnownSchema(field.message)));
      else if (depth < 3 && !seen.has(field.message.typeName)) {
        parameters.push(
          ...queryParameters(
            collector,
            field.message,
            new Set(),
            `${name}.`,
            depth + 1,
            new Set([...seen, message.typeName]),
          ),
        );
      }
    } else if (field.fieldKind === "scalar" || field.fieldKind === "enum") {
      parameters.push(withDescription(collector.fieldSchema(field)));
    } else if (field.fieldKind === "list" && field.listKind !== "message") {
      parameters.push({ ...withDescription(collector.fieldSchema(field)), style: "form", explode: true });
    }
  }
  return parameters;
}

function operationOf(route: HttpRoute, collector: SchemaCollector): OpenApiObject {
  const omit = new Set<DescField>();
  if (route.customerIdField) omit.add(route.customerIdField);
  for (const binding of route.pathBindings) if (binding.fields.length === 1) omit.add(binding.fields[0] as DescField);

  const parameters: OpenApiObject[] = route.pathBindings.map((binding) => {
    const field = binding.fields[binding.fields.length - 1] as DescField;
    const description = leadingComment(field);
    return {
      name: binding.templateName,
      in: "path",
      required: true,
      ...(description ? { description } : {}),
      schema: collector.fieldSchema(field),
    };
  });
  if (route.fieldSource === "query") parameters.push(...queryParameters(collector, route.rpc.input, omit));
  if (route.idempotencyKeyField) {
    parameters.push({
      name: "Idempotency-Key",
      in: "header",
      required: false,
      description: `Fills ${route.idempotencyKeyField.jsonName}: retrying with the same key returns the same result.`,
      schema: { type: "string" },
    });
  }

  const outputRef = collector.refMessage(route.rpc.output);
  const success: OpenApiObject = route.serverStreaming
    ? {
        description:
          "Server-sent events: each `event: message` carries one response message as JSON in `data:`; " +
          "`event: error` carries an error body and ends the stream; `event: end` marks the normal end; " +
          "comment lines are heartbeats.",
        content: { "text/event-stream": { schema: { type: "string" }, "x-event-data": outputRef } },
      }
    : { description: "Success.", content: { "application/json": { schema: outputRef } } };

  const responses: Record<string, OpenApiObject> = { [String(route.successStatus)]: success };
  const errors = ["400", "404", "429", "500", "503", "504"];
  if (route.access !== "public") errors.push("401");
  if (route.access === "admin") errors.push("403");
  if (route.method !== "GET") errors.push("409");
  for (const code of errors.sort()) responses[code] = { $ref: `#/components/responses/Error${code}` };

  const accessNote =
    route.access === "public"
      ? "Public: no token needed."
      : route.access === "customer"
        ? "Needs a customer access token."
        : "Needs an access token with the admin role.";
  const customerNote = route.customerIdField
    ? ` The gateway sets ${route.customerIdField.jsonName} to the token's customer.`
    : "";
  const operation: OpenApiObject = {
    operationId: `${route.rpc.parent.name}_${route.rpc.name}`,
    summary: route.summary,
    description: `${route.description}\n\n${accessNote}${customerNote} gRPC: ${route.grpcPath}.`.trim(),
    tags: [route.rpc.parent.name],
    parameters,
    responses,
    security: route.access === "public" ? [{}, { bearerAuth: [] }] : [{ bearerAuth: [] }],
    "x-agora-access": route.access,
    "x-agora-grpc-method": route.grpcPath,
  };
  if (route.fieldSource === "body") {
    const requiresCustom = omit.size > 0;
    operation.requestBody = {
      required: false,
      content: {
        "application/json": {
          schema: requiresCustom
            ? collector.messageSchema(route.rpc.input, omit)
            : collector.refMessage(route.rpc.input),
        },
      },
    };
  }
  return operation;
}

/**
 * The OpenAPI 3.1 document of the gateway, generated from the same routes it serves: paths with path,
 * query and header parameters, request bodies and responses as JSON Schemas of the proto3 JSON shape
 * (lowerCamelCase names, int64 as strings, enums by name), descriptions from the proto comments, and
 * bearer-token security per access level.
 */
export function buildOpenApiDocument(options: OpenApiOptions): OpenApiObject {
  const collector = new SchemaCollector();
  const paths: Record<string, Record<string, OpenApiObject>> = {};
  const tags = new Map<string, string>();
  for (const route of options.routes) {
    const item = paths[route.path.template] ?? {};
    item[route.method.toLowerCase()] = operationOf(route, collector);
    paths[route.path.template] = item;
    tags.set(route.rpc.parent.name, leadingComment(route.rpc.parent));
  }
  for (const extra of options.extraOperations ?? []) {
    const item = paths[extra.path] ?? {};
    item[extra.method] = extra.operation;
    paths[extra.path] = item;
    for (const message of extra.messages) collector.refMessage(message);
  }
  collector.drain();
  const extraSchemas = Object.assign({}, ...(options.extraOperations ?? []).map((extra) => extra.schemas));
  const sortedPaths = Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b)));
  const responses = Object.fromEntries(
    Object.entries(errorResponses).map(([code, description]) => [
      `Error${code}`,
      { description, content: { "application/json": { schema: schemaRef("Error") } } },
    ]),
  );
  return {
    openapi: "3.1.0",
    info: {
      title: "Agora API",
      version: options.version,
      description:
        "The HTTP/JSON edge of Agora. Every route is generated from an (agora.options.v1.http) option in proto/ " +
        "and transcoded to gRPC; JSON follows the proto3 JSON mapping (lowerCamelCase names, int64 as strings, " +
        "enums by name, fields at their default value included in responses). Every response carries X-Request-Id.",
    },
    tags: [...tags]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, description]) => ({
        name,
        ...(description ? { description } : {}),
      })),
    paths: sortedPaths,
    components: {
      schemas: {
        ...Object.fromEntries(Object.entries(collector.schemas).sort(([a], [b]) => a.localeCompare(b))),
        ...extraSchemas,
        Error: {
          type: "object",
          required: ["error"],
          properties: {
            error: {
              type: "object",
              required: ["code", "message", "requestId"],
              properties: {
                code: {
                  type: "string",
                  description: "gRPC status name (NOT_FOUND, INVALID_ARGUMENT, …) or HTTP-level name.",
                },
                message: { type: "string", description: "What went wrong, naming the field for bad input." },
                requestId: { type: "string", description: "The X-Request-Id of the request." },
              },
              additionalProperties: false,
            },
          },
          additionalProperties: false,
        },
      },
      responses,
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "ES256 access token from POST /v1/sessions (issuer agora-identity, audience agora).",
        },
      },
    },
  };
}
