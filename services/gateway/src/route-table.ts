import {
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
  getOption,
  hasOption,
  type Registry,
  ScalarType,
} from "@bufbuild/protobuf";
import { firstSentence, leadingComment } from "./descriptors";
import { findField } from "./message-json";
import { type PathTemplate, parsePathTemplate, pathVariables } from "./path-template";

/** Who may call a route, from the option's `access` (ACCESS_UNSPECIFIED counts as customer). */
export type Access = "public" | "customer" | "admin";

/** HTTP methods a route can be declared with. */
export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** A path variable bound to a (possibly nested) scalar request field. */
export interface PathBinding {
  /** Name in the template and in OpenAPI, e.g. "order_id". */
  readonly templateName: string;
  /** Key fastify puts the value under in `request.params`. */
  readonly paramKey: string;
  /** The fields from the request message down to the bound scalar field. */
  readonly fields: readonly DescField[];
}

/** One HTTP route derived from an RPC's `(agora.options.v1.http)` option. */
export interface HttpRoute {
  readonly method: HttpMethod;
  readonly path: PathTemplate;
  readonly pathBindings: readonly PathBinding[];
  readonly access: Access;
  /** Request field set to the authenticated customer's id, overriding the client's value. */
  readonly customerIdField: DescField | undefined;
  /** Request field filled from the Idempotency-Key header (a top-level string `idempotency_key`). */
  readonly idempotencyKeyField: DescField | undefined;
  /** HTTP status of a successful response. */
  readonly successStatus: number;
  /** One-line summary (the option's, else the first line of the RPC comment). */
  readonly summary: string;
  /** The RPC's full comment. */
  readonly description: string;
  readonly rpc: DescMethod;
  /** gRPC path, e.g. "/agora.order.v1.OrderService/GetOrder". */
  readonly grpcPath: string;
  /** True for a server-streaming RPC, served as server-sent events. */
  readonly serverStreaming: boolean;
  /** Where the fields that are not path variables come from. */
  readonly fieldSource: "query" | "body";
}

/** Thrown at start when an annotation cannot be served; names the RPC. */
export class RouteDefinitionError extends Error {
  constructor(rpc: DescMethod, reason: string) {
    super(`${rpc.parent.typeName}.${rpc.name}: (agora.options.v1.http) ${reason}`);
    this.name = "RouteDefinitionError";
  }
}

/** The option's fields as protobuf-es reads them (agora.options.v1.HttpRule). */
interface HttpRuleOption {
  pattern: { case: "get" | "post" | "put" | "patch" | "delete" | undefined; value?: string };
  access: number;
  customerIdField: string;
  successStatus: number;
  summary: string;
}

const accessByNumber: Record<number, Access> = { 0: "customer", 1: "public", 2: "customer", 3: "admin" };

/** The gRPC path of a method, e.g. "/agora.order.v1.OrderService/GetOrder". */
export function grpcPathOf(rpc: DescMethod): string {
  return `/${rpc.parent.typeName}/${rpc.name}`;
}

function resolveFieldPath(rpc: DescMethod, message: DescMessage, fieldPath: string): DescField[] {
  const fields: DescField[] = [];
  let current: DescMessage | undefined = message;
  for (const name of fieldPath.split(".")) {
    const field: DescField | undefined = current ? findField(current, name) : undefined;
    if (!field) throw new RouteDefinitionError(rpc, `{${fieldPath}} names no field of ${message.typeName}`);
    fields.push(field);
    current = field.fieldKind === "message" ? field.message : undefined;
  }
  const last = fields[fields.length - 1];
  if (!last || (last.fieldKind !== "scalar" && last.fieldKind !== "enum")) {
    throw new RouteDefinitionError(rpc, `{${fieldPath}} must name a singular scalar or enum field`);
  }
  return fields;
}

function routeOf(rpc: DescMethod, option: HttpRuleOption): HttpRoute {
  const methodCase = option.pattern.case;
  if (!methodCase || !option.pattern.value) throw new RouteDefinitionError(rpc, "sets no HTTP method and path");
  if (rpc.methodKind === "client_streaming" || rpc.methodKind === "bidi_streaming") {
    throw new RouteDefinitionError(rpc, "client-streaming RPCs cannot be served over HTTP/JSON");
  }
  let path: PathTemplate;
  try {
    path = parsePathTemplate(option.pattern.value);
  } catch (error) {
    throw new RouteDefinitionError(rpc, error instanceof Error ? error.message : String(error));
  }
  const pathBindings = pathVariables(path).map((variable) => ({
    templateName: variable.fieldPath,
    paramKey: variable.paramKey,
    fields: resolveFieldPath(rpc, rpc.input, variable.fieldPath),
  }));
  let customerIdField: DescField | undefined;
  if (option.customerIdField !== "") {
    customerIdField = findField(rpc.input, option.customerIdField);
    if (customerIdField?.fieldKind !== "scalar" || customerIdField.scalar !== ScalarType.STRING) {
      throw new RouteDefinitionError(
        rpc,
        `customer_id_field "${option.customerIdField}" must name a string field of ${rpc.input.typeName}`,
      );
    }
    if (pathBindings.some((binding) => binding.fields[0] === customerIdField)) {
      throw new RouteDefinitionError(
        rpc,
        `customer_id_field "${option.customerIdField}" cannot also be a path variable`,
      );
    }
  }
  const successStatus = option.successStatus === 0 ? 200 : option.successStatus;
  if (successStatus < 200 || successStatus > 299) {
    throw new RouteDefinitionError(rpc, `success_status ${successStatus} is not a 2xx status`);
  }
  if (rpc.methodKind === "server_streaming" && methodCase !== "get") {
    throw new RouteDefinitionError(rpc, "a server-streaming RPC is served as server-sent events and must use get");
  }
  const idempotencyKey = rpc.input.fields.find((field) => field.name === "idempotency_key");
  const description = leadingComment(rpc);
  const method = methodCase.toUpperCase() as HttpMethod;
  return {
    method,
    path,
    pathBindings,
    access: accessByNumber[option.access] ?? "customer",
    customerIdField,
    idempotencyKeyField:
      idempotencyKey?.fieldKind === "scalar" && idempotencyKey.scalar === ScalarType.STRING
        ? idempotencyKey
        : undefined,
    successStatus,
    summary: option.summary || firstSentence(description) || `${rpc.parent.name}.${rpc.name}`,
    description,
    rpc,
    grpcPath: grpcPathOf(rpc),
    serverStreaming: rpc.methodKind === "server_streaming",
    fieldSource: method === "GET" || method === "DELETE" ? "query" : "body",
  };
}

/** Every service in the registry. */
export function servicesOf(registry: Registry): DescService[] {
  const services: DescService[] = [];
  for (const type of registry) if (type.kind === "service") services.push(type);
  return services;
}

/**
 * Reads every RPC carrying `(agora.options.v1.http)` from the registry and turns it into a route,
 * sorted by path then method. Throws a {@link RouteDefinitionError} for an annotation that cannot be
 * served (unknown path field, bad status, two RPCs on one method and path, …).
 */
export function routesFromRegistry(registry: Registry): HttpRoute[] {
  const extension = registry.getExtension("agora.options.v1.http");
  if (!extension) return [];
  const routes: HttpRoute[] = [];
  const taken = new Map<string, DescMethod>();
  for (const service of servicesOf(registry)) {
    for (const rpc of service.methods) {
      if (!hasOption(rpc, extension)) continue;
      const route = routeOf(rpc, getOption(rpc, extension) as unknown as HttpRuleOption);
      const key = `${route.method} ${route.path.fastifyPath.replace(/:[^/]+/g, ":")}`;
      const other = taken.get(key);
      if (other) {
        throw new RouteDefinitionError(
          rpc,
          `${route.method} ${route.path.template} is already served by ${grpcPathOf(other)}`,
        );
      }
      taken.set(key, rpc);
      routes.push(route);
    }
  }
  return routes.sort((a, b) => a.path.template.localeCompare(b.path.template) || a.method.localeCompare(b.method));
}
