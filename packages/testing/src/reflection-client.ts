import {
  create,
  createFileRegistry,
  type DescEnum,
  type DescEnumValue,
  type DescExtension,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescOneof,
  type DescService,
  type FileRegistry,
  fromBinary,
  fromJson,
  type JsonValue,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { type FileDescriptorProto, FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

interface ReflectionResponse {
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  list_services_response?: { service: Array<{ name: string }> };
  error_response?: { error_code: number; error_message: string };
}

/**
 * A gRPC server reflection client that works the way grpcurl does: it asks for the file defining a
 * symbol, follows the file's dependency list by name, builds a type registry from what it received
 * (failing when a dependency is missing or a type cannot be resolved), and invokes methods with JSON.
 */
export class ReflectionClient {
  private readonly stub: grpc.Client &
    Record<string, (...args: unknown[]) => grpc.ClientDuplexStream<unknown, unknown>>;
  private readonly files = new Map<string, FileDescriptorProto>();
  private readonly channel: grpc.Client;

  constructor(
    private readonly address: string,
    version: "v1" | "v1alpha" = "v1",
  ) {
    const path = require.resolve(`@grpc/reflection/build/proto/grpc/reflection/${version}/reflection.proto`);
    const definition = protoLoader.loadSync(path, { keepCase: true, longs: Number, oneofs: true });
    const Reflection = grpc.loadPackageDefinition(definition).grpc as unknown as Record<
      string,
      Record<string, { ServerReflection: grpc.ServiceClientConstructor }>
    >;
    const Stub = Reflection.reflection?.[version]?.ServerReflection;
    if (!Stub) throw new Error("reflection proto did not load");
    this.stub = new Stub(address, grpc.credentials.createInsecure()) as unknown as typeof this.stub;
    this.channel = new grpc.Client(address, grpc.credentials.createInsecure());
  }

  private ask(request: Record<string, unknown>): Promise<ReflectionResponse> {
    return new Promise((resolve, reject) => {
      const call = this.stub.ServerReflectionInfo?.() as grpc.ClientDuplexStream<unknown, ReflectionResponse>;
      call.once("data", (response: ReflectionResponse) => {
        resolve(response);
        call.end();
      });
      call.once("error", reject);
      call.write({ host: this.address, ...request });
    });
  }

  /** The services the server lists. */
  async listServices(): Promise<string[]> {
    const response = await this.ask({ list_services: "" });
    return (response.list_services_response?.service ?? []).map((service) => service.name);
  }

  private absorb(response: ReflectionResponse, what: string): FileDescriptorProto[] {
    if (response.error_response) {
      throw new Error(`${what}: ${response.error_response.error_message} (code ${response.error_response.error_code})`);
    }
    const files = (response.file_descriptor_response?.file_descriptor_proto ?? []).map((bytes) =>
      fromBinary(FileDescriptorProtoSchema, bytes),
    );
    for (const file of files) this.files.set(file.name, file);
    return files;
  }

  /** Loads the file defining `symbol` and, like grpcurl, every dependency it names (asking by file name). */
  private async load(symbol: string): Promise<FileRegistry> {
    const [first] = this.absorb(await this.ask({ file_containing_symbol: symbol }), `symbol ${symbol}`);
    if (!first) throw new Error(`symbol ${symbol}: no file returned`);
    const pending = [first];
    while (pending.length > 0) {
      const file = pending.pop() as FileDescriptorProto;
      for (const dependency of file.dependency) {
        if (this.files.has(dependency)) continue;
        const [loaded] = this.absorb(await this.ask({ file_by_filename: dependency }), `file ${dependency}`);
        if (!loaded) throw new Error(`file ${dependency}: not returned`);
        pending.push(loaded);
      }
    }
    // Fails like grpcurl does when a dependency was not served or a referenced type is missing. The
    // files go in dependencies first: protobuf-es's own resolver (createFileRegistry(file, resolve))
    // adds them in an order that breaks on a diamond of imports (a.proto and b.proto importing c.proto).
    const ordered: FileDescriptorProto[] = [];
    const placed = new Set<string>();
    const place = (file: FileDescriptorProto) => {
      if (placed.has(file.name)) return;
      placed.add(file.name);
      for (const dependency of file.dependency) {
        const found = this.files.get(dependency);
        if (!found) throw new Error(`Cannot find ${dependency}, imported by ${file.name}`);
        place(found);
      }
      ordered.push(file);
    };
    place(first);
    return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
  }

  /** Resolves a service or message like `grpcurl describe` (throws when any type cannot be resolved). */
  async describe(symbol: string): Promise<DescService | DescMessage> {
    const registry = await this.load(symbol);
    const found = registry.get(symbol);
    if (!found || (found.kind !== "service" && found.kind !== "message")) throw new Error(`${symbol} not found`);
    if (found.kind === "message") resolveFields(found, new Set());
    else for (const method of found.methods) resolveFields(method.input, new Set());
    return found;
  }

  /**
   * Resolves any symbol `grpcurl describe` takes — service, method, message, field, oneof, enum, enum
   * value (as `pkg.Enum.VALUE` or `pkg.VALUE`), extension — by asking for the file containing it, as
   * grpcurl does (throws when the server does not know the symbol or a type cannot be resolved).
   */
  async describeSymbol(symbol: string): Promise<DescribedSymbol> {
    const registry = await this.load(symbol);
    const found = registry.get(symbol);
    if (found) {
      if (found.kind === "message") resolveFields(found, new Set());
      return found;
    }
    const cut = symbol.lastIndexOf(".");
    const [parent, name] = [symbol.slice(0, cut), symbol.slice(cut + 1)];
    const message = registry.getMessage(parent);
    const member =
      message?.fields.find((field) => field.name === name) ??
      message?.oneofs.find((oneof) => oneof.name === name) ??
      registry.getService(parent)?.methods.find((method) => method.name === name) ??
      registry.getEnum(parent)?.values.find((value) => value.name === name);
    if (member) return member;
    // An enum value named in its enum's enclosing scope (protobuf scoping): look through that scope's enums.
    for (const type of registry) {
      if (type.kind !== "enum" || type.typeName.slice(0, type.typeName.lastIndexOf(".")) !== parent) continue;
      const value = type.values.find((candidate) => candidate.name === name);
      if (value) return value;
    }
    throw new Error(`${symbol} not found in the file the server returned`);
  }

  /** Calls "package.Service/Method" with a JSON request and returns the JSON response, like `grpcurl -d`. */
  async invoke(fullMethod: string, request: JsonValue, metadata: Record<string, string> = {}): Promise<JsonValue> {
    const [serviceName = "", methodName = ""] = fullMethod.split("/");
    const registry = await this.load(serviceName);
    const service = registry.getService(serviceName);
    const method: DescMethod | undefined = service?.methods.find((candidate) => candidate.name === methodName);
    if (!method) throw new Error(`${fullMethod} not found`);
    const requestBytes = toBinary(method.input, fromJson(method.input, request, { registry }));
    const md = new grpc.Metadata();
    for (const [key, value] of Object.entries(metadata)) md.set(key, value);
    const responseBytes = await new Promise<Buffer>((resolve, reject) => {
      this.channel.makeUnaryRequest(
        `/${serviceName}/${methodName}`,
        (bytes: Buffer) => bytes,
        (bytes: Buffer) => bytes,
        Buffer.from(requestBytes),
        md,
        { deadline: new Date(Date.now() + 10_000) },
        (error, response) => (error || !response ? reject(error) : resolve(response)),
      );
    });
    return toJson(method.output, fromBinary(method.output, responseBytes), { registry });
  }

  close(): void {
    this.stub.close();
    this.channel.close();
  }
}

/** What {@link ReflectionClient.describeSymbol} resolves. */
export type DescribedSymbol =
  | DescService
  | DescMethod
  | DescMessage
  | DescField
  | DescOneof
  | DescEnum
  | DescEnumValue
  | DescExtension;

/** Walks every field's message type, so an unresolvable reference surfaces as an error. */
function resolveFields(message: DescMessage, seen: Set<string>): void {
  if (seen.has(message.typeName)) return;
  seen.add(message.typeName);
  for (const field of message.fields) {
    if (field.message) resolveFields(field.message, seen);
  }
}

/** Re-exported from the kit, where the local runner uses it too. */
export { checkHealth } from "@agora/service-kit";
