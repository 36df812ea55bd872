import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  createFileRegistry,
  type DescFile,
  type DescMethod,
  type DescService,
  fromBinary,
  getOption,
  hasOption,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

/** One RPC of the service to scaffold. */
export interface RpcModel {
  /** Proto name, e.g. "GetOrderView". */
  name: string;
  /** Full path, e.g. "/agora.orderhistory.v1.OrderHistoryService/GetOrderView". */
  path: string;
  requestType: string;
  responseType: string;
  /** Short name of the request message, e.g. "GetOrderViewRequest". */
  requestName: string;
  /** Module of the generated TypeScript holding the request message. */
  requestImportPath: string;
  kind: "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";
  /** Has an (agora.options.v1.http) option: the gateway exposes it. */
  http: boolean;
  /** The leading comment in the proto, trimmed ("" when none). */
  comment: string;
}

/** The service to scaffold, read from the compiled descriptors. */
export interface ServiceModel {
  /** e.g. "agora.orderhistory.v1". */
  protoPackage: string;
  /** e.g. "OrderHistoryService". */
  name: string;
  /** e.g. "agora.orderhistory.v1.OrderHistoryService". */
  fullName: string;
  /** The .proto file defining it, e.g. "agora/orderhistory/v1/order_history_service.proto". */
  file: string;
  /** Module of the generated TypeScript, e.g. "@agora/contracts/agora/orderhistory/v1/order_history_service". */
  importPath: string;
  /** Name of the generated grpc-js definition, e.g. "OrderHistoryServiceService". */
  definitionName: string;
  comment: string;
  rpcs: RpcModel[];
  /** Event types the package declares (agora.<context>.<event>), which the service will publish. */
  events: string[];
  /** Message names of the package other than requests, responses and events (candidates for tables). */
  resources: string[];
}

/** The proto folder of a context, relative to the root. */
export function protoFolder(context: string): string {
  return `proto/agora/${context}/v1`;
}

/** The .proto files of a context (empty when the folder does not exist). */
export function protoFiles(root: string, context: string): string[] {
  const folder = join(root, protoFolder(context));
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((file) => file.endsWith(".proto"))
    .sort();
}

function leadingComment(file: DescFile, path: number[]): string {
  const location = file.proto.sourceCodeInfo?.location.find(
    (candidate) => candidate.path.length === path.length && candidate.path.every((value, i) => value === path[i]),
  );
  return (location?.leadingComments ?? "")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .join(" ");
}

function rpcModel(service: DescService, method: DescMethod, serviceIndex: number, http: boolean): RpcModel {
  return {
    name: method.name,
    path: `/${service.typeName}/${method.name}`,
    requestType: method.input.typeName,
    responseType: method.output.typeName,
    requestName: method.input.name,
    requestImportPath: `@agora/contracts/${method.input.file.name}`,
    kind: method.methodKind,
    http,
    comment: leadingComment(service.file, [6, serviceIndex, 2, service.methods.indexOf(method)]),
  };
}

/**
 * Reads the services of package `agora.<context>.v1` from a compiled FileDescriptorSet (what `buf
 * build` writes to packages/contracts/descriptors.binpb), with each RPC's streaming kind, http option
 * and comment, the package's events and its resource messages.
 */
export function readServices(descriptorSet: Uint8Array, context: string): ServiceModel[] {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
  const httpOption = registry.getExtension("agora.options.v1.http");
  const eventOption = registry.getExtension("agora.options.v1.event");
  const protoPackage = `agora.${context}.v1`;
  const files = [...registry.files].filter((file) => file.proto.package === protoPackage);
  const events: string[] = [];
  const resources: string[] = [];
  const requestsAndResponses = new Set<string>();
  for (const file of files) {
    for (const service of file.services) {
      for (const method of service.methods) {
        requestsAndResponses.add(method.input.typeName);
        requestsAndResponses.add(method.output.typeName);
      }
    }
  }
  for (const file of files) {
    for (const message of file.messages) {
      const event =
        eventOption && hasOption(message, eventOption)
          ? (getOption(message, eventOption) as { type?: string })
          : undefined;
      if (event?.type) events.push(event.type);
      else if (!requestsAndResponses.has(message.typeName)) resources.push(message.name);
    }
  }
  const models: ServiceModel[] = [];
  for (const file of files) {
    file.services.forEach((service, serviceIndex) => {
      const base = file.name.replace(/\.proto$/, "");
      models.push({
        protoPackage,
        name: service.name,
        fullName: service.typeName,
        file: `${base}.proto`,
        importPath: `@agora/contracts/${base}`,
        definitionName: `${service.name}Service`,
        comment: leadingComment(file, [6, serviceIndex]),
        rpcs: service.methods.map((method) =>
          rpcModel(service, method, serviceIndex, httpOption ? hasOption(method, httpOption) : false),
        ),
        events: events.sort(),
        resources,
      });
    });
  }
  return models;
}

/** Reads the descriptor set of a root's contracts package. */
export function readDescriptorSet(root: string): Uint8Array {
  return readFileSync(join(root, "packages/contracts/descriptors.binpb"));
}
