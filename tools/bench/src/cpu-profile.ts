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
