import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import type { Manifest } from "./helm";
import { strictFieldErrors } from "./strict-fields";

/** What is wrong with one rendered document. */
export interface DocumentProblem {
  kind: string;
  name: string;
  error: string;
}

const validatorScript = resolve(__dirname, "model-validator.mts");

/** Kinds without a model package: checked by the tests' own schemas (Flagger's CRDs). */
export const kindsWithoutModels = new Set(["flagger.app/v1beta1/Canary", "flagger.app/v1beta1/MetricTemplate"]);

/**
 * Validates documents against the Kubernetes and Istio models (types, enums, required fields) and,
 * because those schemas accept unknown fields (as the API server would silently drop them), against
 * the models' declared fields as well: a misspelt or misplaced key is an error.
 */
export function validateManifests(docs: Manifest[]): DocumentProblem[] {
  const modelled = docs.filter((d) => !kindsWithoutModels.has(`${d.apiVersion}/${d.kind}`));
  const out = execFileSync(process.execPath, [validatorScript], {
    input: JSON.stringify(modelled),
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  const problems: DocumentProblem[] = (JSON.parse(out) as { index: number; error: string }[]).map((p) => {
    const d = modelled[p.index] as Manifest;
    return { kind: d.kind, name: d.metadata?.name, error: p.error };
  });
  for (const d of modelled) {
    for (const error of strictFieldErrors(d)) problems.push({ kind: d.kind, name: d.metadata?.name, error });
  }
  return problems;
}
