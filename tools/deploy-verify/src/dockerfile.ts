import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./paths";

/** One build stage of the Dockerfile: its FROM line and the instructions after it. */
export interface DockerStage {
  /** Name after `AS` (prune, build, deps, runtime …). */
  name: string;
  from: string;
  instructions: string[];
}

/** The repository's Dockerfile as text. */
export function readDockerfile(): string {
  return readFileSync(join(repoRoot, "Dockerfile"), "utf8");
}

/** Instructions with continuation lines joined and comments dropped, as Docker reads them. */
export function dockerInstructions(text: string): string[] {
  return text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

/** The build stages, in order. */
export function dockerStages(text: string): DockerStage[] {
  const stages: DockerStage[] = [];
  for (const line of dockerInstructions(text)) {
    const from = /^FROM \S+ AS (\S+)$/i.exec(line);
    if (from) stages.push({ name: from[1] as string, from: line, instructions: [] });
    else stages.at(-1)?.instructions.push(line);
  }
  return stages;
}

/** The stage of that name; throws when the Dockerfile has none. */
export function dockerStage(text: string, name: string): DockerStage {
  const stage = dockerStages(text).find((s) => s.name === name);
  if (!stage) throw new Error(`the Dockerfile has no stage ${name}`);
  return stage;
}

/**
 * The build stage's collect step: `RUN node -e '<script>' "${WORKSPACE_DIR}/${SERVICE}" /collect`.
 * Returns the script, which takes the service's workspace folder and the output folder as arguments.
 */
export function collectScript(text: string): string {
  const pattern = /^RUN node -e '([^']*)' "\$\{WORKSPACE_DIR\}\/\$\{SERVICE\}" \/collect$/;
  const runs = dockerStage(text, "build")
    .instructions.map((line) => pattern.exec(line)?.[1])
    .filter((script): script is string => script !== undefined);
  if (runs.length !== 1) throw new Error(`expected one collect step in the build stage, found ${runs.length}`);
  return runs[0] as string;
}
