import { join } from "node:path";
import type { RenderOptions } from "./helm";
import { chartDir } from "./paths";

/** A named way of installing the chart, rendered and checked as a whole. */
export interface Profile extends RenderOptions {
  name: string;
  istio: boolean;
}

const ci = (file: string): string => join(chartDir, "ci", file);

/** Every profile the tests render: the defaults plus each values file in charts/agora/ci. */
export const profiles: Profile[] = [
  { name: "default", istio: false },
  { name: "istio", istio: true, valuesFiles: [ci("istio-values.yaml")] },
  { name: "canary", istio: true, valuesFiles: [ci("canary-values.yaml")] },
  { name: "canary-without-istio", istio: false, valuesFiles: [ci("canary-without-istio-values.yaml")] },
  { name: "external-infra", istio: false, valuesFiles: [ci("external-values.yaml")] },
  { name: "external-infra+istio", istio: true, valuesFiles: [ci("external-values.yaml"), ci("istio-values.yaml")] },
  { name: "flagger", istio: true, valuesFiles: [ci("flagger-values.yaml")] },
  { name: "production", istio: true, valuesFiles: [ci("production-values.yaml")], namespace: "shop" },
];
