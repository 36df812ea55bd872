import { execFileSync } from "node:child_process";
import { join, resolve } from "node:path";
import type { RenderOptions } from "./helm";
import { repoRoot } from "./paths";

/** One Tilt built-in call the Tiltfile made: function name, positional and keyword arguments. */
export interface TiltCall {
  fn: string;
  // biome-ignore lint/suspicious/noExplicitAny: arguments are whatever the Tiltfile passed.
  args: any[];
  // biome-ignore lint/suspicious/noExplicitAny: as above.
  kwargs: Record<string, any>;
}

/** The Tiltfile runner: $TILT_RENDER, else the repository's tools/tilt-render (builds itself on first use). */
export function tiltRenderBinary(): string {
  return process.env.TILT_RENDER || resolve(repoRoot, "tools/tilt-render/tilt-render");
}

/**
 * Runs the repository's Tiltfile with Tilt's own Starlark interpreter and stand-ins for its built-ins
 * (tools/tilt-render), as `tilt up -- <args>` would, and returns every built-in call it made.
 */
export function tiltCalls(args: string[] = []): TiltCall[] {
  const out = execFileSync(tiltRenderBinary(), [join(repoRoot, "Tiltfile"), "--", ...args], {
    cwd: repoRoot,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return (JSON.parse(out) as { calls: TiltCall[] }).calls;
}

/** The `helm template` options of the Tiltfile's one helm() call (values files and --set pairs). */
export function tiltHelmOptions(calls: TiltCall[]): RenderOptions {
  const helm = calls.filter((c) => c.fn === "helm");
  if (helm.length !== 1) throw new Error(`expected one helm() call in the Tiltfile, found ${helm.length}`);
  const [call] = helm as [TiltCall];
  const set: Record<string, string> = {};
  for (const pair of (call.kwargs.set ?? []) as string[]) {
    const i = pair.indexOf("=");
    set[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return {
    chart: resolve(repoRoot, call.args[0] ?? call.kwargs.pathToChartDir),
    release: call.kwargs.name,
    namespace: call.kwargs.namespace,
    valuesFiles: ((call.kwargs.values ?? []) as string[]).map((f) => resolve(repoRoot, f)),
    set,
  };
}
