import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { eventTypes } from "../src";

const packageRoot = resolve(__dirname, "..");

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const full = join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(relative(root, full));
    }
  };
  walk(root);
  return out.sort();
}

describe("generated contracts", () => {
  let outDir: string;

  beforeAll(() => {
    outDir = mkdtempSync(join(tmpdir(), "agora-contracts-"));
    execFileSync(process.execPath, [join(packageRoot, "scripts/generate.mts"), "--out", outDir], {
      cwd: packageRoot,
      stdio: "pipe",
    });
  }, 120_000);

  afterAll(() => rmSync(outDir, { recursive: true, force: true }));

  it("are what regenerating from proto/ produces (run `npm run generate` in packages/contracts)", () => {
    const committed = listFiles(join(packageRoot, "src/gen"));
    const fresh = listFiles(join(outDir, "src/gen"));
    expect(committed).toEqual(fresh);
    const stale = fresh.filter(
      (file) => !readFileSync(join(outDir, "src/gen", file)).equals(readFileSync(join(packageRoot, "src/gen", file))),
    );
    expect(stale).toEqual([]);
  });

  it.each(["descriptors.binpb", "grpc-protocols.binpb"])("%s is what buf builds from the sources", (file) => {
    expect(readFileSync(join(outDir, file)).equals(readFileSync(join(packageRoot, file)))).toBe(true);
  });

  it("has an event type for every message in an events.proto, named agora.<context>.<event>", () => {
    const eventFiles = listFiles(join(packageRoot, "src/gen/agora")).filter((file) => file.endsWith("/events.ts"));
    const messagesInEventFiles = eventFiles.flatMap((file) =>
      [...readFileSync(join(packageRoot, "src/gen/agora", file), "utf8").matchAll(/^export interface (\w+) \{/gm)].map(
        (match) => match[1],
      ),
    );
    const catalogued = [...eventTypes.values()].map((event) => event.typeName.split(".").pop());
    expect(catalogued.sort()).toEqual(messagesInEventFiles.sort());
    for (const [type, event] of eventTypes) {
      expect(type).toMatch(/^agora\.[a-z]+\.[a-z_]+$/);
      expect(type.split(".")[1]).toBe(event.context);
      expect(event.typeName.startsWith(`agora.${event.context}.v1.`)).toBe(true);
    }
  });
});
