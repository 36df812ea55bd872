import { evaluateGate, type GateResult, type GateThresholds } from "./gate";
import type { Cluster, KubeObject } from "./kube";
import type { Metrics } from "./prometheus";
import { type CanaryHeader, withCanarySubset, withCanaryWeight } from "./virtual-service";

/** Everything a canary rollout is told. */
export interface RolloutOptions {
  namespace: string;
  service: string;
  /** Image of the new version; empty = use the <service>-<version> Deployment that already runs. */
  image?: string;
  /** Extra env on the canary only, e.g. FAULT_ERROR_RATE=0.3 to demonstrate a rollback. */
  env: Record<string, string>;
  stableVersion: string;
  canaryVersion: string;
  /** Weights to step through, ascending, ending at 100. */
  steps: number[];
  /** Time each step runs before the gate judges it. */
  stepSeconds: number;
  /** How many extra intervals a step may wait for enough traffic before it counts as failed. */
  maxTrafficWaits: number;
  gate: GateThresholds;
  header: CanaryHeader;
  rolloutTimeoutSeconds: number;
}

/** Progress events, rendered by the live view. */
export type RolloutEvent =
  | { type: "started"; canary: string; image: string; created: boolean }
  | { type: "weight"; weight: number; step: number; steps: number }
  | { type: "waiting"; weight: number; remainingSeconds: number }
  | { type: "gate"; weight: number; result: GateResult }
  | { type: "rolled-back"; weight: number; reason: string }
  | { type: "promoting"; image: string }
  | { type: "promoted"; image: string };

/** What the rollout uses: the cluster, Prometheus, a clock and the view. */
export interface RolloutDeps {
  cluster: Cluster;
  metrics: Metrics;
  sleep: (ms: number) => Promise<void>;
  onEvent: (e: RolloutEvent) => void;
}

/** How the rollout ended. */
export interface RolloutOutcome {
  status: "promoted" | "rolled-back";
  weight: number;
  reason: string;
}

/** Parses "10,25,50,100" and checks it climbs to 100. */
export function parseSteps(text: string): number[] {
  const steps = text.split(",").map((s) => Number(s.trim()));
  if (steps.some((s) => !Number.isInteger(s) || s <= 0 || s > 100)) throw new Error(`bad steps "${text}": want 1..100`);
  if (steps.some((s, i) => i > 0 && s <= (steps[i - 1] as number))) throw new Error(`steps "${text}" must increase`);
  if (steps[steps.length - 1] !== 100) throw new Error(`steps "${text}" must end at 100`);
  return steps;
}

/** The canary Deployment: a copy of the stable one with its own name, version label, image and env. */
export function canaryDeployment(stable: KubeObject, o: RolloutOptions, image: string): KubeObject {
  const name = `${o.service}-${o.canaryVersion}`;
  const spec = JSON.parse(JSON.stringify(stable.spec));
  delete spec.replicas;
  spec.replicas = 1;
  spec.selector = { matchLabels: { ...spec.selector.matchLabels, version: o.canaryVersion } };
  spec.template.metadata.labels = { ...spec.template.metadata.labels, version: o.canaryVersion };
  const container = spec.template.spec.containers[0];
  container.image = image;
  const env: { name: string; value?: string }[] = (container.env ?? []).filter(
    (e: { name: string }) => !(e.name in o.env),
  );
  for (const [k, v] of Object.entries(o.env)) env.push({ name: k, value: v });
  container.env = env;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name,
      namespace: o.namespace,
      labels: { ...(stable.metadata.labels ?? {}), version: o.canaryVersion, "agora.dev/canary-by": "agora-canary" },
    },
    spec,
  };
}

async function required(cluster: Cluster, kind: string, name: string): Promise<KubeObject> {
  const obj = await cluster.get(kind, name);
  if (!obj) throw new Error(`${kind} ${name} not found: install the chart with istio.enabled=true first`);
  return obj;
}

/**
 * The VirtualServices routing to the service: the mesh one (`<service>`) and, for the HTTP gateway, the
 * chart's ingress one (`<service>-ingress`, present when the ingress is enabled). A canary that only the
 * mesh route knew about would get no outside traffic.
 */
async function routesOf(d: RolloutDeps, o: RolloutOptions): Promise<KubeObject[]> {
  const mesh = await required(d.cluster, "virtualservice", o.service);
  const ingress = await d.cluster.get("virtualservice", `${o.service}-ingress`);
  return ingress ? [mesh, ingress] : [mesh];
}

async function setWeight(d: RolloutDeps, o: RolloutOptions, weight: number): Promise<void> {
  for (const vs of await routesOf(d, o)) {
    await d.cluster.replace(withCanaryWeight(vs, o.stableVersion, o.canaryVersion, weight, o.header));
  }
}

async function removeCanary(d: RolloutDeps, o: RolloutOptions, created: boolean): Promise<void> {
  const name = `${o.service}-${o.canaryVersion}`;
  if (created) {
    await d.cluster.delete("deployment", name);
    return;
  }
  const dep = await d.cluster.get("deployment", name);
  if (dep) {
    dep.spec.replicas = 0;
    await d.cluster.replace(dep);
  }
}

/** Waits out one step, reporting the countdown every few seconds. */
async function waitStep(d: RolloutDeps, weight: number, seconds: number): Promise<void> {
  for (let left = seconds; left > 0; ) {
    d.onEvent({ type: "waiting", weight, remainingSeconds: left });
    const chunk = Math.min(left, 5);
    await d.sleep(chunk * 1000);
    left -= chunk;
  }
}

/**
 * Runs a canary: starts the new version next to the stable one, steps its weight, judges every step
 * on Prometheus (success rate and p99 of the canary's own workload), rolls back at the first failed
 * gate, and at the end promotes: the stable Deployment takes the canary's image, all traffic returns
 * to it and the canary Deployment goes away.
 */
export async function runCanary(o: RolloutOptions, d: RolloutDeps): Promise<RolloutOutcome> {
  const canaryName = `${o.service}-${o.canaryVersion}`;
  const stable = await required(d.cluster, "deployment", o.service);
  const dr = await required(d.cluster, "destinationrule", o.service);
  await required(d.cluster, "virtualservice", o.service);

  let created = false;
  let image = o.image ?? "";
  if (image) {
    await d.cluster.apply(canaryDeployment(stable, o, image));
    created = true;
  } else {
    const existing = await d.cluster.get("deployment", canaryName);
    if (!existing) throw new Error(`no --image given and no Deployment ${canaryName} to use`);
    image = existing.spec.template.spec.containers[0].image as string;
    if (Object.keys(o.env).length > 0) {
      await d.cluster.apply(canaryDeployment(existing, { ...o }, image));
    }
    if ((existing.spec.replicas ?? 1) === 0) {
      existing.spec.replicas = 1;
      await d.cluster.replace(existing);
    }
  }
  d.onEvent({ type: "started", canary: canaryName, image, created });
  await d.cluster.replace(withCanarySubset(dr, o.canaryVersion));
  await d.cluster.waitForRollout(canaryName, o.rolloutTimeoutSeconds);

  const target = { namespace: o.namespace, workload: canaryName, version: o.canaryVersion };
  for (const [i, weight] of o.steps.entries()) {
    await setWeight(d, o, weight);
    d.onEvent({ type: "weight", weight, step: i + 1, steps: o.steps.length });
    let result: GateResult | undefined;
    for (let attempt = 0; ; attempt++) {
      await waitStep(d, weight, o.stepSeconds);
      result = await evaluateGate(d.metrics, target, o.gate);
      d.onEvent({ type: "gate", weight, result });
      if (result.verdict !== "insufficient-traffic" || attempt >= o.maxTrafficWaits) break;
    }
    if (result.verdict !== "pass") {
      await setWeight(d, o, 0);
      await removeCanary(d, o, created);
      const reason = result.verdict === "insufficient-traffic" ? `not enough traffic: ${result.reason}` : result.reason;
      d.onEvent({ type: "rolled-back", weight, reason });
      return { status: "rolled-back", weight, reason };
    }
  }

  d.onEvent({ type: "promoting", image });
  const current = await required(d.cluster, "deployment", o.service);
  current.spec.template.spec.containers[0].image = image;
  await d.cluster.replace(current);
  await d.cluster.waitForRollout(o.service, o.rolloutTimeoutSeconds);
  await setWeight(d, o, 0);
  await removeCanary(d, o, created);
  d.onEvent({ type: "promoted", image });
  return { status: "promoted", weight: 100, reason: "every gate passed" };
}
