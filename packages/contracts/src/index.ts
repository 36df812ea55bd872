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
