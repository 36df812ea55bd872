import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** The functions with the most self time in the .cpuprofile files of a folder (V8 --cpu-prof output). */
export function topFunctions(
  directory: string,
  count = 12,
): Array<{ function: string; where: string; selfPercent: number }> {
  const totals = new Map<string, { function: string; where: string; hits: number }>();
  let allHits = 0;
  for (const file of readdirSync(directory).filter((name) => name.endsWith(".cpuprofile"))) {
    const profile = JSON.parse(readFileSync(join(directory, file), "utf8")) as { nodes: ProfileNode[] };
    for (const node of profile.nodes) {
      const hits = node.hitCount ?? 0;
      allHits += hits;
      const { functionName, url, lineNumber } = node.callFrame;
      const where = url
        ? `${url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/(services|packages)\//, "$1/")}:${lineNumber + 1}`
        : "(native)";
      const key = `${functionName}@${where}`;
      const entry = totals.get(key) ?? { function: functionName || "(anonymous)", where, hits: 0 };
      entry.hits += hits;
      totals.set(key, entry);
    }
  }
  return [...totals.values()]
    .sort((a, b) => b.hits - a.hits)
    .slice(0, count)
    .map((entry) => ({
      function: entry.function,
      where: entry.where,
      selfPercent: Math.round((entry.hits / Math.max(1, allHits)) * 1000) / 10,
    }));
}

interface ProfileTreeNode extends ProfileNode {
  children?: number[];
}

/** The package a frame's script belongs to: an npm package, an Agora workspace, or Node itself. */
function ownerOf(url: string): string | undefined {
  const npm = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (npm) return npm[1];
  const workspace = /\/((?:services|packages|tools)\/[^/]+)\//.exec(url);
  if (workspace) return workspace[1];
  return undefined;
}

/**
 * Busy CPU time (idle excluded) by library, in percent of the busy time: a sample counts for the
 * innermost frame that belongs to an npm package or an Agora workspace, so the native work a library
 * starts (a socket write, a hash) is charged to it; samples with no such frame are Node itself, and
 * the garbage collector and V8's own time ("(program)") are listed apart.
 */
export function timeByLibrary(directory: string, count = 10): Array<{ library: string; busyPercent: number }> {
  const totals = new Map<string, number>();
  let busy = 0;
  for (const file of readdirSync(directory).filter((name) => name.endsWith(".cpuprofile"))) {
    const profile = JSON.parse(readFileSync(join(directory, file), "utf8")) as { nodes: ProfileTreeNode[] };
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    for (const node of profile.nodes) {
      const hits = node.hitCount ?? 0;
      const name = node.callFrame.functionName;
      if (hits === 0 || name === "(idle)" || name === "(root)") continue;
      busy += hits;
      let library: string | undefined =
        name === "(garbage collector)" ? "garbage collector" : name === "(program)" ? "V8 (program)" : undefined;
      for (let id: number | undefined = node.id; library === undefined && id !== undefined; id = parent.get(id)) {
        library = ownerOf(byId.get(id)?.callFrame.url ?? "");
      }
      library ??= "Node.js itself";
      totals.set(library, (totals.get(library) ?? 0) + hits);
    }
  }
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([library, hits]) => ({ library, busyPercent: Math.round((hits / Math.max(1, busy)) * 1000) / 10 }));
}
