import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { DescriptorIndex, IndexedFile } from "./descriptor-index";

// Written here rather than taken from @grpc/reflection: its service rebuilds descriptors through
// protobufjs and serves them with empty `dependency` lists (grpc-node issues #2958, #3018), so grpcurl
// cannot resolve imported or well-known types and `describe`/`call` fail. This one serves the bytes of
// the compiled descriptor sets unchanged (Agora's own, plus grpc-protocols.binpb for health and
// reflection). The reflection protocol's own messages are still read from the .proto files that
// @grpc/reflection ships.

const loaderOptions: protoLoader.Options = { keepCase: true, longs: Number, defaults: false, oneofs: true };

function loadReflectionPackage(version: "v1" | "v1alpha") {
  const path = require.resolve(`@grpc/reflection/build/proto/grpc/reflection/${version}/reflection.proto`);
  return protoLoader.loadSync(path, loaderOptions);
}

interface ReflectionRequest {
  host?: string;
  message_request?: string;
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type?: string; extension_number?: number };
  all_extension_numbers_of_type?: string;
  list_services?: string;
}

/** Answers one reflection request from the index. Exported for unit tests. */
export function answerReflectionRequest(
  index: DescriptorIndex,
  servedServices: readonly string[],
  request: ReflectionRequest,
): Record<string, unknown> {
  const base = { valid_host: request.host ?? "", original_request: request };
  const files = (file: IndexedFile | undefined, what: string) =>
    file
      ? {
          ...base,
          file_descriptor_response: { file_descriptor_proto: index.withDependencies(file).map((f) => f.bytes) },
        }
      : { ...base, error_response: { error_code: grpc.status.NOT_FOUND, error_message: `${what} not found` } };
  switch (request.message_request) {
    case "file_by_filename":
      return files(index.file(request.file_by_filename ?? ""), `file ${request.file_by_filename}`);
    case "file_containing_symbol":
      return files(
        index.fileContainingSymbol(request.file_containing_symbol ?? ""),
        `symbol ${request.file_containing_symbol}`,
      );
    case "file_containing_extension": {
      const type = request.file_containing_extension?.containing_type ?? "";
      const number = request.file_containing_extension?.extension_number ?? 0;
      return files(index.fileContainingExtension(type, number), `extension ${number} of ${type}`);
    }
    case "all_extension_numbers_of_type": {
      const type = request.all_extension_numbers_of_type ?? "";
      const numbers = index.extensionNumbers(type);
      return numbers
        ? { ...base, all_extension_numbers_response: { base_type_name: type, extension_number: numbers } }
        : { ...base, error_response: { error_code: grpc.status.NOT_FOUND, error_message: `type ${type} not found` } };
    }
    case "list_services":
      return { ...base, list_services_response: { service: servedServices.map((name) => ({ name })) } };
    default:
      return {
        ...base,
        error_response: { error_code: grpc.status.INVALID_ARGUMENT, error_message: "unknown reflection request" },
      };
  }
}

/**
 * Adds grpc.reflection.v1 and v1alpha ServerReflection to `server`, answering from `index` and listing
 * `servedServices` (call it after every other service is added, with their names).
 */
export function addReflection(
  server: grpc.Server,
  index: DescriptorIndex,
  servedServices: () => readonly string[],
): void {
  for (const version of ["v1", "v1alpha"] as const) {
    const definition = loadReflectionPackage(version)[`grpc.reflection.${version}.ServerReflection`];
    server.addService(definition as grpc.ServiceDefinition, {
      ServerReflectionInfo(call: grpc.ServerDuplexStream<ReflectionRequest, unknown>) {
        call.on("data", (request: ReflectionRequest) => {
          call.write(answerReflectionRequest(index, servedServices(), request));
        });
        call.on("end", () => call.end());
        call.on("error", () => call.end());
      },
    });
  }
}
