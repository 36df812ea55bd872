import {
  type DescField,
  type DescMessage,
  fromBinary,
  fromJson,
  type JsonObject,
  type JsonValue,
  type Registry,
  ScalarType,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { invalidArgument } from "./http-errors";
import { findField, hasSpecialJson, joinPath, validateMessageJson } from "./message-json";
import type { HttpRoute } from "./route-table";

/** What an HTTP request brings to build the RPC's request message from. */
export interface HttpRequestParts {
  /** Path parameters by fastify key. */
  params: Readonly<Record<string, string>>;
  /** Parsed query string; repeated keys give arrays. */
  query: Readonly<Record<string, string | string[] | undefined>>;
  /** Parsed JSON body (body routes only); undefined when there was none. */
  body: unknown;
  /** The Idempotency-Key header, when sent. */
  idempotencyKey?: string;
  /** The authenticated customer, whose id fills the route's customer_id_field. */
  customerId?: string;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Converts one query-string or path text to the JSON value proto3 JSON expects for the field. */
function textToJson(field: DescField, text: string): JsonValue {
  const scalar = field.fieldKind === "list" || field.fieldKind === "scalar" ? field.scalar : undefined;
  if (scalar === ScalarType.BOOL) {
    if (text === "true" || text === "1") return true;
    if (text === "false" || text === "0") return false;
    return text;
  }
  const isEnum = field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum");
  if (isEnum && /^-?\d+$/.test(text)) return Number(text);
  // Numbers stay strings: proto3 JSON accepts quoted numbers, and 64-bit integers must stay exact.
  return text;
}

/** The key a field already has in a JSON object (its JSON name or its proto name), if any. */
function existingKey(object: JsonObject, field: DescField): string | undefined {
  if (field.jsonName in object) return field.jsonName;
  if (field.name in object) return field.name;
  return undefined;
}

/** Walks (creating objects as needed) to the object holding the last field of `fields`. */
function containerFor(root: JsonObject, fields: readonly DescField[], path: string): JsonObject {
  let current = root;
  let currentPath = "";
  for (const field of fields.slice(0, -1)) {
    currentPath = joinPath(currentPath, field.jsonName);
    const key = existingKey(current, field) ?? field.jsonName;
    const next = current[key];
    if (next === undefined || next === null) {
      const created: JsonObject = {};
      current[key] = created;
      current = created;
    } else if (isObject(next)) {
      current = next;
    } else {
      throw invalidArgument(`${currentPath}: expected an object (while setting ${path})`);
    }
  }
  return current;
}

/** Resolves a dotted query parameter name (JSON or proto names per segment) to fields. */
function resolveQueryName(message: DescMessage, name: string): DescField[] {
  const fields: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const segment of name.split(".")) {
    if (!current) {
      throw invalidArgument(`${name}: unknown query parameter (${fields.at(-1)?.jsonName} has no fields)`);
    }
    const field = findField(current, segment);
    if (!field)
      throw invalidArgument(`${name}: unknown query parameter (${current.typeName} has no field "${segment}")`);
    fields.push(field);
    current = field.fieldKind === "message" && !hasSpecialJson(field.message) ? field.message : undefined;
  }
  return fields;
}

function setQueryValue(root: JsonObject, name: string, fields: DescField[], values: string[]): void {
  const field = fields[fields.length - 1] as DescField;
  if (field.fieldKind === "map") throw invalidArgument(`${name}: map fields cannot be set from the query string`);
  if (field.fieldKind === "message" && !hasSpecialJson(field.message)) {
    throw invalidArgument(`${name}: is a message; set its fields instead, for example ${name}.<field>`);
  }
  if (field.fieldKind === "list" && field.listKind === "message" && !hasSpecialJson(field.message)) {
    throw invalidArgument(`${name}: a list of messages cannot be set from the query string`);
  }
  const container = containerFor(root, fields, name);
  const key = existingKey(container, field) ?? field.jsonName;
  if (field.fieldKind === "list") {
    const list = Array.isArray(container[key]) ? (container[key] as JsonValue[]) : [];
    list.push(...values.map((value) => textToJson(field, value)));
    container[key] = list;
    return;
  }
  if (values.length > 1) throw invalidArgument(`${name}: given ${values.length} times but is not a list`);
  if (container[key] !== undefined) throw invalidArgument(`${name}: given twice`);
  container[key] = textToJson(field, values[0] ?? "");
}

/**
 * Builds the proto3 JSON of the RPC's request from an HTTP request: the JSON body (body routes) or the
 * query string (GET/DELETE; dotted names for nested fields, JSON or proto names), then the path
 * variables, the Idempotency-Key header and finally the customer id from the token, which overrides
 * whatever the client sent. Throws a 400 naming the field on any conflict.
 */
export function requestJsonOf(route: HttpRoute, parts: HttpRequestParts): JsonObject {
  let root: JsonObject;
  if (route.fieldSource === "body") {
    if (parts.body === undefined || parts.body === null || parts.body === "") root = {};
    else if (isObject(parts.body)) root = structuredClone(parts.body);
    else throw invalidArgument("request body: expected a JSON object");
  } else {
    root = {};
    for (const [name, raw] of Object.entries(parts.query)) {
      if (raw === undefined) continue;
      const values = Array.isArray(raw) ? raw : [raw];
      setQueryValue(root, name, resolveQueryName(route.rpc.input, name), values);
    }
  }

  for (const binding of route.pathBindings) {
    const text = parts.params[binding.paramKey] ?? "";
    const field = binding.fields[binding.fields.length - 1] as DescField;
    const container = containerFor(root, binding.fields, binding.templateName);
    const key = existingKey(container, field);
    const value = textToJson(field, text);
    if (key !== undefined && container[key] !== null && container[key] !== value) {
      throw invalidArgument(
        `${binding.fields.map((item) => item.jsonName).join(".")}: the path says ${JSON.stringify(text)} but the request also gives ${JSON.stringify(container[key])}`,
      );
    }
    if (key !== undefined) delete container[key];
    container[field.jsonName] = value;
  }

  const keyField = route.idempotencyKeyField;
  if (keyField && parts.idempotencyKey !== undefined) {
    const key = existingKey(root, keyField);
    const given = key === undefined ? undefined : root[key];
    if (given !== undefined && given !== null && given !== "" && given !== parts.idempotencyKey) {
      throw invalidArgument(
        `${keyField.jsonName}: the Idempotency-Key header (${JSON.stringify(parts.idempotencyKey)}) and the body (${JSON.stringify(given)}) disagree`,
      );
    }
    if (key !== undefined) delete root[key];
    root[keyField.jsonName] = parts.idempotencyKey;
  }

  const customerField = route.customerIdField;
  if (customerField) {
    delete root[customerField.name];
    delete root[customerField.jsonName];
    if (parts.customerId !== undefined) root[customerField.jsonName] = parts.customerId;
  }
  return root;
}

/**
 * Validates proto3 JSON against the RPC's request message and encodes it (400 naming the field when
 * it does not fit: unknown field, wrong type, out of range).
 */
export function encodeRequest(message: DescMessage, json: JsonObject, registry: Registry): Uint8Array {
  validateMessageJson(message, json, registry);
  try {
    return toBinary(message, fromJson(message, json, { registry, ignoreUnknownFields: false }));
  } catch (error) {
    // validateMessageJson catches what it can name precisely; this is the remaining safety net.
    throw invalidArgument(`request: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/**
 * Decodes a response message and writes it as proto3 JSON with lowerCamelCase names, enum names, and
 * fields at their default values included (so `"available": 0` is never missing).
 */
export function responseJsonOf(message: DescMessage, bytes: Uint8Array, registry: Registry): JsonValue {
  return toJson(message, fromBinary(message, bytes), { registry, alwaysEmitImplicit: true });
}
