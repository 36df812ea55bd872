import { descriptorSetBytes, grpcProtocolsDescriptorSetBytes } from "@agora/contracts";
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  MethodOptions_IdempotencyLevel,
} from "@bufbuild/protobuf/wkt";

/** One proto file of the descriptor set: its bytes exactly as `buf build` wrote them, and decoded. */
export interface IndexedFile {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly proto: FileDescriptorProto;
}

/** How a method may be retried, from its `idempotency_level` option. */
export type Idempotency = "NO_SIDE_EFFECTS" | "IDEMPOTENT" | "UNKNOWN";

/**
 * An index over a compiled FileDescriptorSet: files by name, the file defining each fully qualified
 * symbol, extensions by extended type, and each method's declared idempotency.
 */
export class DescriptorIndex {
  private readonly files = new Map<string, IndexedFile>();
  private readonly fileBySymbol = new Map<string, IndexedFile>();
  private readonly messageTypes = new Set<string>();
  private readonly extensions = new Map<string, Map<number, IndexedFile>>();
  private readonly idempotency = new Map<string, Idempotency>();
  private readonly serviceNames: string[] = [];

  constructor(descriptorSet: Uint8Array) {
    // FileDescriptorSet is `repeated FileDescriptorProto file = 1`. Reading it field by field keeps each
    // file's original bytes, so reflection serves them exactly as built (dependencies included).
    const reader = new BinaryReader(descriptorSet);
    while (reader.pos < reader.len) {
      const [fieldNo, wireType] = reader.tag();
      if (fieldNo !== 1 || wireType !== WireType.LengthDelimited) {
        reader.skip(wireType);
        continue;
      }
      const bytes = reader.bytes();
      const proto = fromBinary(FileDescriptorProtoSchema, bytes);
      this.add({ name: proto.name, bytes, proto });
    }
  }

  private add(file: IndexedFile): void {
    this.files.set(file.name, file);
    const prefix = file.proto.package ? `${file.proto.package}.` : "";
    const symbol = (name: string) => this.fileBySymbol.set(name, file);
    // An enum's values are symbols of the enum's enclosing scope (protobuf's C++ scoping, what
    // protoc and Go's protoregistry name them), and also under the enum itself (what grpcurl's
    // descriptor library calls them): both resolve.
    const addEnums = (enums: EnumDescriptorProto[], scope: string) => {
      for (const enumType of enums) {
        symbol(`${scope}${enumType.name}`);
        for (const value of enumType.value) {
          symbol(`${scope}${value.name}`);
          symbol(`${scope}${enumType.name}.${value.name}`);
        }
      }
    };
    const addMessages = (messages: DescriptorProto[], scope: string) => {
      for (const message of messages) {
        const name = `${scope}${message.name}`;
        symbol(name);
        this.messageTypes.add(name);
        for (const field of message.field) symbol(`${name}.${field.name}`);
        for (const oneof of message.oneofDecl) symbol(`${name}.${oneof.name}`);
        addEnums(message.enumType, `${name}.`);
        for (const extension of message.extension) this.addExtension(extension.extendee, extension.number, file);
        for (const extension of message.extension) symbol(`${name}.${extension.name}`);
        addMessages(message.nestedType, `${name}.`);
      }
    };
    addMessages(file.proto.messageType, prefix);
    addEnums(file.proto.enumType, prefix);
    for (const extension of file.proto.extension) {
      this.fileBySymbol.set(`${prefix}${extension.name}`, file);
      this.addExtension(extension.extendee, extension.number, file);
    }
    for (const service of file.proto.service) {
      const serviceName = `${prefix}${service.name}`;
      this.serviceNames.push(serviceName);
      this.fileBySymbol.set(serviceName, file);
      for (const method of service.method) {
        this.fileBySymbol.set(`${serviceName}.${method.name}`, file);
        const level = method.options?.idempotencyLevel ?? MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN;
        this.idempotency.set(
          `/${serviceName}/${method.name}`,
          level === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS
            ? "NO_SIDE_EFFECTS"
            : level === MethodOptions_IdempotencyLevel.IDEMPOTENT
              ? "IDEMPOTENT"
              : "UNKNOWN",
        );
      }
    }
  }

  private addExtension(extendee: string, number: number, file: IndexedFile): void {
    const type = extendee.replace(/^\./, "");
    const byNumber = this.extensions.get(type) ?? new Map<number, IndexedFile>();
    byNumber.set(number, file);
    this.extensions.set(type, byNumber);
  }

  /** The file with this name, e.g. "agora/catalog/v1/catalog_service.proto". */
  file(name: string): IndexedFile | undefined {
    return this.files.get(name);
  }

  /**
   * The file defining a fully qualified symbol: service, method, message, field, oneof, enum, enum
   * value, extension.
   */
  fileContainingSymbol(symbol: string): IndexedFile | undefined {
    return this.fileBySymbol.get(symbol.replace(/^\./, ""));
  }

  /** The file defining extension `number` of `type`. */
  fileContainingExtension(type: string, number: number): IndexedFile | undefined {
    return this.extensions.get(type)?.get(number);
  }

  /** Extension numbers known for message `type`, or undefined when no such message is known. */
  extensionNumbers(type: string): number[] | undefined {
    if (!this.messageTypes.has(type)) return undefined;
    return [...(this.extensions.get(type)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /** `file` followed by every file it imports, transitively, each once. */
  withDependencies(file: IndexedFile): IndexedFile[] {
    const result: IndexedFile[] = [];
    const seen = new Set<string>();
    const visit = (current: IndexedFile) => {
      if (seen.has(current.name)) return;
      seen.add(current.name);
      result.push(current);
      for (const dependency of current.proto.dependency) {
        const found = this.files.get(dependency);
        if (found) visit(found);
      }
    };
    visit(file);
    return result;
  }

  /** The declared idempotency of a method, by path ("/agora.catalog.v1.CatalogService/GetProduct"). */
  idempotencyOf(path: string): Idempotency {
    return this.idempotency.get(path) ?? "UNKNOWN";
  }

  /** Every service defined in the indexed files. */
  services(): readonly string[] {
    return this.serviceNames;
  }
}

let agoraIndex: DescriptorIndex | undefined;

/** The index over Agora's compiled contracts plus the gRPC health and reflection protocols (built once). */
export function agoraDescriptors(): DescriptorIndex {
  // Two serialized FileDescriptorSets concatenated form one set with the files of both.
  agoraIndex ??= new DescriptorIndex(Buffer.concat([descriptorSetBytes(), grpcProtocolsDescriptorSetBytes()]));
  return agoraIndex;
}
