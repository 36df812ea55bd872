import {
  type DescEnum,
  type DescField,
  type DescMessage,
  fromJson,
  type JsonValue,
  type Registry,
  ScalarType,
} from "@bufbuild/protobuf";
import { invalidArgument } from "./http-errors";

/** Well-known types whose proto3 JSON form is not a plain object of their fields. */
const specialJsonTypes = new Set(
  [
    "Any",
    "Timestamp",
    "Duration",
    "FieldMask",
    "Struct",
    "Value",
    "ListValue",
    "BoolValue",
    "BytesValue",
    "DoubleValue",
    "FloatValue",
    "Int32Value",
    "Int64Value",
    "StringValue",
    "UInt32Value",
    "UInt64Value",
  ].map((name) => `google.protobuf.${name}`),
);

/** True for well-known types with a special JSON form (Timestamp as a string, wrappers as scalars …). */
export function hasSpecialJson(message: DescMessage): boolean {
  return specialJsonTypes.has(message.typeName);
}

/** The field of `message` called `name` in proto3 JSON (lowerCamelCase) or in the .proto file. */
export function findField(message: DescMessage, name: string): DescField | undefined {
  return message.fields.find((field) => field.jsonName === name || field.name === name);
}

/** Appends a field name to a path ("lines[0]" + "quantity" → "lines[0].quantity"). */
export function joinPath(path: string, name: string): string {
  return path === "" ? name : `${path}.${name}`;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

const int32Range = { min: -(2n ** 31n), max: 2n ** 31n - 1n };
const uint32Range = { min: 0n, max: 2n ** 32n - 1n };
const int64Range = { min: -(2n ** 63n), max: 2n ** 63n - 1n };
const uint64Range = { min: 0n, max: 2n ** 64n - 1n };

function integerRange(type: ScalarType): { min: bigint; max: bigint; name: string } | undefined {
  switch (type) {
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { ...int32Range, name: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { ...uint32Range, name: "uint32" };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { ...int64Range, name: "int64" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { ...uint64Range, name: "uint64" };
    default:
      return undefined;
  }
}

function checkScalar(type: ScalarType, value: JsonValue, path: string): void {
  const range = integerRange(type);
  if (range) {
    let asBigInt: bigint | undefined;
    if (typeof value === "number" && Number.isInteger(value)) asBigInt = BigInt(value);
    else if (typeof value === "string" && /^-?\d+$/.test(value.trim())) asBigInt = BigInt(value.trim());
    if (asBigInt === undefined) {
      throw invalidArgument(`${path}: expected an integer (${range.name}), got ${describe(value)}`);
    }
    if (asBigInt < range.min || asBigInt > range.max) {
      throw invalidArgument(`${path}: ${asBigInt} is out of range for ${range.name}`);
    }
    return;
  }
  switch (type) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      if (typeof value === "number") return;
      if (typeof value === "string" && (/^(NaN|-?Infinity)$/.test(value) || Number.isFinite(Number(value)))) return;
      throw invalidArgument(`${path}: expected a number, got ${describe(value)}`);
    case ScalarType.BOOL:
      if (typeof value === "boolean") return;
      throw invalidArgument(`${path}: expected true or false, got ${describe(value)}`);
    case ScalarType.STRING:
      if (typeof value === "string") return;
      throw invalidArgument(`${path}: expected a string, got ${describe(value)}`);
    case ScalarType.BYTES:
      if (typeof value === "string" && /^[A-Za-z0-9+/_-]*={0,2}$/.test(value)) return;
      throw invalidArgument(`${path}: expected base64-encoded bytes, got ${describe(value)}`);
  }
}

function checkEnum(enumDesc: DescEnum, value: JsonValue, path: string): void {
  if (enumDesc.typeName === "google.protobuf.NullValue" && value === null) return;
  if (typeof value === "number" && Number.isInteger(value)) return;
  if (typeof value === "string" && enumDesc.values.some((candidate) => candidate.name === value)) return;
  const names = enumDesc.values.map((candidate) => candidate.name);
  const allowed = names.length <= 12 ? `one of ${names.join(", ")}` : `a value of ${enumDesc.typeName}`;
  throw invalidArgument(`${path}: expected ${allowed}, got ${describe(value)}`);
}

function checkSpecial(message: DescMessage, value: JsonValue, path: string, registry: Registry): void {
  try {
    fromJson(message, value, { registry, ignoreUnknownFields: false });
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/^cannot decode [^:]*: /, "");
    throw invalidArgument(`${path}: not a valid ${message.name} (${reason})`);
  }
}

function checkSingular(
  field: DescField,
  kind: "scalar" | "enum" | "message",
  value: JsonValue,
  path: string,
  registry: Registry,
): void {
  if (kind === "scalar" && field.scalar !== undefined) checkScalar(field.scalar, value, path);
  else if (kind === "enum" && field.enum) checkEnum(field.enum, value, path);
  else if (kind === "message" && field.message) checkMessage(field.message, value, path, registry);
}

function checkMapKey(type: ScalarType, key: string, path: string): void {
  if (type === ScalarType.BOOL) {
    if (key !== "true" && key !== "false")
      throw invalidArgument(`${path}: map key ${JSON.stringify(key)} must be true or false`);
    return;
  }
  if (integerRange(type)) checkScalar(type, key, `${path}[${JSON.stringify(key)}]`);
}

function checkField(field: DescField, value: JsonValue, path: string, registry: Registry): void {
  if (value === null) {
    // null means "not set" for every field except google.protobuf.Value, whose fromJson accepts it.
    return;
  }
  switch (field.fieldKind) {
    case "scalar":
      checkScalar(field.scalar, value, path);
      return;
    case "enum":
      checkEnum(field.enum, value, path);
      return;
    case "message":
      checkMessage(field.message, value, path, registry);
      return;
    case "list": {
      if (!Array.isArray(value)) throw invalidArgument(`${path}: expected an array, got ${describe(value)}`);
      value.forEach((item, index) => {
        const itemPath = `${path}[${index}]`;
        if (item === null && !(field.listKind === "message" && field.message.typeName === "google.protobuf.Value")) {
          throw invalidArgument(`${itemPath}: null is not allowed in a list`);
        }
        checkSingular(field, field.listKind, item, itemPath, registry);
      });
      return;
    }
    case "map": {
      if (typeof value !== "object" || Array.isArray(value)) {
        throw invalidArgument(`${path}: expected an object (a map), got ${describe(value)}`);
      }
      for (const [key, entry] of Object.entries(value)) {
        checkMapKey(field.mapKey, key, path);
        if (entry === null) throw invalidArgument(`${path}[${JSON.stringify(key)}]: null is not allowed in a map`);
        checkSingular(field, field.mapKind, entry, `${path}[${JSON.stringify(key)}]`, registry);
      }
      return;
    }
  }
}

function checkMessage(message: DescMessage, value: JsonValue, path: string, registry: Registry): void {
  if (hasSpecialJson(message)) {
    checkSpecial(message, value, path, registry);
    return;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidArgument(`${path === "" ? "request body" : path}: expected an object, got ${describe(value)}`);
  }
  const seen = new Map<DescField, string>();
  const oneofs = new Map<string, string>();
  for (const [key, fieldValue] of Object.entries(value)) {
    const field = findField(message, key);
    const fieldPath = joinPath(path, key);
    if (!field) throw invalidArgument(`${fieldPath}: unknown field (${message.typeName} has no field "${key}")`);
    const earlier = seen.get(field);
    if (earlier !== undefined) throw invalidArgument(`${fieldPath}: given twice (also as "${earlier}")`);
    seen.set(field, key);
    if (field.oneof && fieldValue !== null) {
      const other = oneofs.get(field.oneof.name);
      if (other !== undefined) {
        throw invalidArgument(`${fieldPath}: only one of ${joinPath(path, other)} and ${fieldPath} may be set`);
      }
      oneofs.set(field.oneof.name, key);
    }
    checkField(field, fieldValue, fieldPath, registry);
  }
}

/**
 * Checks that `value` is valid proto3 JSON for `message` and throws a 400 naming the first offending
 * field by its JSON path (for example `lines[0].quantity: expected an integer (int32), got "many"`):
 * unknown fields, wrong types, integers out of range, unknown enum names, two members of one oneof.
 */
export function validateMessageJson(message: DescMessage, value: JsonValue, registry: Registry): void {
  checkMessage(message, value, "", registry);
}
