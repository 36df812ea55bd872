import { readFileSync } from "node:fs";
import { join } from "node:path";

export type { EventType, MessageCodec } from "./event-type";
export * from "./gen/events";

/** Absolute path of the compiled FileDescriptorSet of every Agora proto (with imports and source info). */
export const descriptorSetPath: string = join(__dirname, "..", "descriptors.binpb");

let cachedDescriptorSet: Uint8Array | undefined;

/** The compiled FileDescriptorSet bytes (`buf build` output), read once. */
export function descriptorSetBytes(): Uint8Array {
  cachedDescriptorSet ??= readFileSync(descriptorSetPath);
  return cachedDescriptorSet;
}

/** Absolute path of the descriptors of grpc.health.v1 and grpc.reflection.v1/v1alpha. */
export const grpcProtocolsDescriptorSetPath: string = join(__dirname, "..", "grpc-protocols.binpb");

let cachedProtocols: Uint8Array | undefined;

/** The FileDescriptorSet bytes of the standard gRPC health and reflection protocols, read once. */
export function grpcProtocolsDescriptorSetBytes(): Uint8Array {
  cachedProtocols ??= readFileSync(grpcProtocolsDescriptorSetPath);
  return cachedProtocols;
}
