import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

/** The repository these tests run in. */
export const repoRoot = resolve(__dirname, "../../..");

/** A throwaway copy of the parts of the repository the generator reads and writes. */
export interface TempRepo {
  root: string;
  remove(): void;
}

const copiedFiles = [
  "package.json",
  "tsconfig.base.json",
  "jest.config.base.js",
  "biome.json",
  "turbo.json",
  "skaffold.yaml",
  "Tiltfile",
  "Dockerfile",
];
const copiedFolders = [
  "proto",
  "charts",
  "packages/contracts",
  "packages/service-kit",
  "packages/testing",
  "tools/deploy-verify",
];
const linkedPackages = ["contracts", "service-kit", "testing"];

/**
 * Copies proto/, charts/, the contracts, kit and testing packages (with their dist), the root
 * configuration, skaffold.yaml, the Tiltfile, tools/deploy-verify and every service's package.json
 * (so names and ports count as taken) and src/ into a temporary folder. Its node_modules holds links
 * to the real root node_modules, except @agora/* which link to the copies, so code built in the copy
 * uses the copy's contracts. Nothing in the real working tree is written.
 */
export function copyRepo(source = repoRoot): TempRepo {
  for (const pkg of linkedPackages) {
    if (!existsSync(join(source, "packages", pkg, "dist"))) {
      throw new Error(
        `packages/${pkg}/dist is missing: build first (npx turbo run build --filter=@agora/new-service^...)`,
      );
    }
  }
  const root = mkdtempSync(join(tmpdir(), "agora-new-service-"));
  const skip = (path: string) => !/[/\\](node_modules|\.turbo|coverage)([/\\]|$)/.test(path);
  for (const file of copiedFiles) {
    if (existsSync(join(source, file))) cpSync(join(source, file), join(root, file));
  }
  for (const folder of copiedFolders) {
    cpSync(join(source, folder), join(root, folder), { recursive: true, filter: skip });
    // Packages may hold dependencies of their own (versions the root could not hoist).
    const own = join(source, folder, "node_modules");
    if (existsSync(own)) symlinkSync(own, join(root, folder, "node_modules"));
  }
  for (const service of readdirSync(join(source, "services"))) {
    const manifest = join(source, "services", service, "package.json");
    if (!existsSync(manifest)) continue;
    mkdirSync(join(root, "services", service), { recursive: true });
    cpSync(manifest, join(root, "services", service, "package.json"));
    // deploy-verify compares the chart's authorization with the calls in the services' sources.
    const src = join(source, "services", service, "src");
    if (existsSync(src)) cpSync(src, join(root, "services", service, "src"), { recursive: true });
  }
  const modules = join(root, "node_modules");
  mkdirSync(join(modules, "@agora"), { recursive: true });
  for (const entry of readdirSync(join(source, "node_modules"))) {
    if (entry === "@agora") continue;
    symlinkSync(join(source, "node_modules", entry), join(modules, entry));
  }
  for (const pkg of linkedPackages) symlinkSync(join(root, "packages", pkg), join(modules, "@agora", pkg));
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

/** Writes a file under the copy, creating folders. */
export function writeInto(root: string, path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

/** A small proto in the repository's style (buf STANDARD + COMMENTS lint): two unary RPCs, one of them exposed over HTTP, and a stream. */
export const parcelLockerProto = `syntax = "proto3";

package agora.parcellocker.v1;

import "agora/options/v1/options.proto";
import "google/protobuf/timestamp.proto";

// Parcel lockers where customers collect their shipments.
service ParcelLockerService {
  // Returns one locker; NOT_FOUND when it does not exist.
  rpc GetLocker(GetLockerRequest) returns (GetLockerResponse) {
    option idempotency_level = NO_SIDE_EFFECTS;
    option (agora.options.v1.http) = {
      get: "/v1/lockers/{locker_id}"
      access: ACCESS_PUBLIC
    };
  }
  // Holds a compartment for a shipment. Idempotent by shipment id.
  rpc ReserveCompartment(ReserveCompartmentRequest) returns (ReserveCompartmentResponse) {
    option idempotency_level = IDEMPOTENT;
  }
  // Streams the locker now and after every change.
  rpc WatchLocker(WatchLockerRequest) returns (stream WatchLockerResponse) {
    option idempotency_level = NO_SIDE_EFFECTS;
  }
}

// A parcel locker.
message Locker {
  // Id of the locker.
  string locker_id = 1;
  // Free compartments.
  int32 free_compartments = 2;
  // When the locker last changed.
  google.protobuf.Timestamp update_time = 3;
}

// Which locker to return.
message GetLockerRequest {
  // Id of the locker.
  string locker_id = 1;
}

// The locker asked for.
message GetLockerResponse {
  // The locker.
  Locker locker = 1;
}

// A compartment to hold.
message ReserveCompartmentRequest {
  // Id of the locker.
  string locker_id = 1;
  // Id of the shipment; the idempotency key.
  string shipment_id = 2;
}

// The compartment held.
message ReserveCompartmentResponse {
  // The locker after the reservation.
  Locker locker = 1;
  // Number of the compartment.
  int32 compartment = 2;
}

// Which locker to watch.
message WatchLockerRequest {
  // Id of the locker.
  string locker_id = 1;
}

// The locker at one moment.
message WatchLockerResponse {
  // The locker as it is now.
  Locker locker = 1;
}
`;
