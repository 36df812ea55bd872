import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** The local-run settings a service declares in its package.json ("agora" block). */
export interface LocalRunBlock {
  grpcPort?: number;
  httpPort?: number;
  metricsPort?: number;
  database?: boolean;
  downstreams?: string[];
  localEnv?: Record<string, string>;
}

/** A workspace package as the generator sees it. */
export interface WorkspacePackage {
  /** Folder relative to the root, e.g. "services/catalog". */
  folder: string;
  name: string;
  agora?: LocalRunBlock;
}

/**
 * The repository root: the nearest folder at or above `start` whose package.json declares workspaces
 * and which has a proto/ folder.
 */
export function findRoot(start: string): string {
  let dir = resolve(start);
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && existsSync(join(dir, "proto"))) {
      const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { workspaces?: unknown };
      if (Array.isArray(pkg.workspaces)) return dir;
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(`no Agora repository (package.json with workspaces and proto/) at or above ${start}`);
    dir = parent;
  }
}

/** Every workspace package under the root's workspace globs of the form "folder/*". */
export function workspacePackages(root: string): WorkspacePackage[] {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { workspaces: string[] };
  const found: WorkspacePackage[] = [];
  for (const pattern of pkg.workspaces) {
    const base = pattern.replace(/\/\*$/, "");
    const folders = pattern.endsWith("/*")
      ? existsSync(join(root, base))
        ? readdirSync(join(root, base), { withFileTypes: true })
            .filter((entry) => entry.isDirectory())
            .map((entry) => `${base}/${entry.name}`)
        : []
      : [pattern];
    for (const folder of folders) {
      const manifest = join(root, folder, "package.json");
      if (!existsSync(manifest)) continue;
      const json = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string; agora?: LocalRunBlock };
      found.push({ folder, name: json.name ?? folder, agora: json.agora });
    }
  }
  return found.sort((a, b) => a.folder.localeCompare(b.folder));
}

/** Ports the architecture reserves for the services it names (ARCHITECTURE.md). */
export const reservedPorts = { grpc: [50051, 50058], metrics: [9450, 9458] } as const;

/**
 * The next free ports after every port already taken: the reserved ranges, the local-run blocks of
 * the workspace packages and the chart's services.
 */
export function nextPorts(taken: { grpc: number[]; metrics: number[] }): { grpc: number; metrics: number } {
  const grpc = Math.max(reservedPorts.grpc[1], ...taken.grpc) + 1;
  const metrics = Math.max(reservedPorts.metrics[1], ...taken.metrics) + 1;
  return { grpc, metrics };
}
