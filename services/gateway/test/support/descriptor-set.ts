import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

const repoRoot = resolve(__dirname, "../../../..");

/** A FileDescriptorSet built by buf for a test, with the folder it lives in. */
export interface BuiltDescriptorSet {
  /** Path of the `buf build -o` output. */
  readonly path: string;
  remove(): void;
}

/**
 * Builds a FileDescriptorSet with buf (as packages/contracts does for proto/) from `protoDir` (a
 * folder laid out by package, e.g. `gatewaytest/v1/echo_service.proto` under `agora/`) together with
 * Agora's `agora/options/v1/options.proto`, which the test protos import for the HTTP option.
 */
export function buildDescriptorSet(protoDir: string, packagePath: string): BuiltDescriptorSet {
  const root = mkdtempSync(join(tmpdir(), "agora-gateway-proto-"));
  const source = join(root, "proto");
  mkdirSync(join(source, dirname(packagePath)), { recursive: true });
  cpSync(protoDir, join(source, packagePath), { recursive: true });
  const options = "agora/options/v1/options.proto";
  mkdirSync(join(source, dirname(options)), { recursive: true });
  cpSync(join(repoRoot, "proto", options), join(source, options));
  const output = join(root, "descriptors.binpb");
  execFileSync(join(repoRoot, "node_modules/.bin/buf"), ["build", source, "-o", output], { stdio: "pipe" });
  return { path: output, remove: () => rmSync(root, { recursive: true, force: true }) };
}
