import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { chartDir, repoRoot } from "./paths";

/** A Kubernetes object as rendered: apiVersion, kind, metadata and anything else. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // biome-ignore lint/suspicious/noExplicitAny: rendered documents are checked by the validators, not the compiler.
  [key: string]: any;
}

/** Options of one `helm template` run. */
export interface RenderOptions {
  release?: string;
  namespace?: string;
  valuesFiles?: string[];
  /** --set key=value pairs. */
  set?: Record<string, string | number | boolean>;
  chart?: string;
}

let cachedHelm: string | undefined;

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/**
 * The helm binary to render with: a real `helm` on PATH, else $HELM, else the repository's stand-in
 * (tools/helm-render/helm, which builds itself on first use). A stand-in on PATH counts as "not real".
 */
export function helmBinary(): string {
  if (cachedHelm) return cachedHelm;
  const fromPath = onPath("helm");
  if (fromPath) {
    const v = spawnSync(fromPath, ["version", "--short"], { encoding: "utf8" });
    if (v.status === 0 && !/render-standin/.test(v.stdout)) {
      cachedHelm = fromPath;
      return cachedHelm;
    }
  }
  cachedHelm = process.env.HELM || resolve(repoRoot, "tools/helm-render/helm");
  return cachedHelm;
}

/** True when rendering with the real helm (which also validates values.schema.json itself). */
export function isRealHelm(): boolean {
  const v = spawnSync(helmBinary(), ["version", "--short"], { encoding: "utf8" });
  return v.status === 0 && !/render-standin/.test(v.stdout);
}

/** Runs `helm template` and returns the rendered text. Throws with helm's stderr on failure. */
export function renderText(opts: RenderOptions = {}): string {
  const args = ["template", opts.release ?? "agora", opts.chart ?? chartDir, "--namespace", opts.namespace ?? "agora"];
  args.push("--kube-version", "1.30.0");
  for (const f of opts.valuesFiles ?? []) args.push("-f", f);
  for (const [k, v] of Object.entries(opts.set ?? {})) args.push("--set", `${k}=${v}`);
  try {
    return execFileSync(helmBinary(), args, {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      maxBuffer: 64 << 20,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`helm ${args.join(" ")} failed: ${e.stderr || e.message}`);
  }
}

/** Parses a multi-document YAML stream into manifests, skipping empty documents. */
export function parseManifests(text: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`invalid YAML in rendered output: ${doc.errors[0]?.message}`);
    const value = doc.toJS({ maxAliasCount: -1 }) as Manifest | null;
    if (value === null || value === undefined) continue;
    out.push(value);
  }
  return out;
}

/** Renders the chart and parses the result. */
export function render(opts: RenderOptions = {}): Manifest[] {
  return parseManifests(renderText(opts));
}

/** Every object of one kind. */
export function ofKind(docs: Manifest[], kind: string): Manifest[] {
  return docs.filter((d) => d.kind === kind);
}

/** The one object of a kind and name; throws when there is none. */
export function find(docs: Manifest[], kind: string, name: string): Manifest {
  const found = docs.find((d) => d.kind === kind && d.metadata.name === name);
  if (!found) throw new Error(`no ${kind} named ${name} in the rendered chart`);
  return found;
}
