import type { KubeObject } from "./kube";

// biome-ignore lint/suspicious/noExplicitAny: VirtualService routes are edited structurally.
type HttpRoute = any;

/** Header that always reaches the canary, whatever the weights. */
export interface CanaryHeader {
  name: string;
  value: string;
}

/**
 * The VirtualService with `weight` percent of every weighted route sent to the canary subset and the
 * rest to the stable one. Routes that already go only to the canary (the header route) stay as they
 * are; a route without a canary destination gets one; a header route is added when missing.
 */
export function withCanaryWeight(
  vs: KubeObject,
  stable: string,
  canary: string,
  weight: number,
  header: CanaryHeader,
): KubeObject {
  if (!Number.isInteger(weight) || weight < 0 || weight > 100) throw new Error(`weight ${weight} is not 0..100`);
  const out = JSON.parse(JSON.stringify(vs)) as KubeObject;
  const routes: HttpRoute[] = out.spec?.http ?? [];
  if (routes.length === 0) throw new Error(`VirtualService ${vs.metadata.name} has no http routes`);
  const isHeaderRoute = (r: HttpRoute): boolean =>
    r.route?.length === 1 &&
    r.route[0].destination?.subset === canary &&
    (r.match ?? []).some((m: HttpRoute) => m.headers);
  for (const r of routes) {
    if (isHeaderRoute(r)) continue;
    const stableDest = r.route.find((d: HttpRoute) => d.destination?.subset === stable);
    if (!stableDest) throw new Error(`a route of ${vs.metadata.name} has no destination with subset ${stable}`);
    let canaryDest = r.route.find((d: HttpRoute) => d.destination?.subset === canary);
    if (!canaryDest) {
      canaryDest = { destination: { ...stableDest.destination, subset: canary } };
      r.route.push(canaryDest);
    }
    stableDest.weight = 100 - weight;
    canaryDest.weight = weight;
  }
  if (!routes.some(isHeaderRoute)) {
    const base = routes[routes.length - 1] as HttpRoute;
    const dest = base.route.find((d: HttpRoute) => d.destination?.subset === canary);
    routes.unshift({
      ...base,
      name: "canary-header",
      match: [{ headers: { [header.name]: { exact: header.value } } }],
      route: [{ destination: dest.destination, weight: 100 }],
    });
  }
  return out;
}

/** The canary's weight in the VirtualService's last (default) route, or 0 when it has none. */
export function canaryWeight(vs: KubeObject, canary: string): number {
  const routes: HttpRoute[] = vs.spec?.http ?? [];
  const last = routes[routes.length - 1];
  return last?.route?.find((d: HttpRoute) => d.destination?.subset === canary)?.weight ?? 0;
}

/** The DestinationRule with a subset for the canary version (unchanged when it already has one). */
export function withCanarySubset(dr: KubeObject, canary: string): KubeObject {
  const out = JSON.parse(JSON.stringify(dr)) as KubeObject;
  const subsets: { name: string; labels: Record<string, string> }[] = out.spec.subsets ?? [];
  if (!subsets.some((s) => s.name === canary)) subsets.push({ name: canary, labels: { version: canary } });
  out.spec.subsets = subsets;
  return out;
}
