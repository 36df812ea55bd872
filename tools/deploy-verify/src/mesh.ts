import type { Manifest } from "./helm";

/** One request as Istio's authorization sees it. */
export interface MeshRequest {
  /** SPIFFE principal of the caller, e.g. cluster.local/ns/agora/sa/order. */
  principal: string;
  /** Labels of the destination pod. */
  workloadLabels: Record<string, string>;
  /** Namespace of the destination pod. */
  namespace: string;
  path?: string;
  method?: string;
  port: number;
}

function matchString(pattern: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (pattern === "*") return true;
  if (pattern.startsWith("*")) return value.endsWith(pattern.slice(1));
  if (pattern.endsWith("*")) return value.startsWith(pattern.slice(0, -1));
  return pattern === value;
}

function anyMatch(patterns: string[] | undefined, value: string | undefined): boolean {
  return patterns === undefined || patterns.some((p) => matchString(p, value));
}

function noneMatch(patterns: string[] | undefined, value: string | undefined): boolean {
  return patterns === undefined || !patterns.some((p) => matchString(p, value));
}

// biome-ignore lint/suspicious/noExplicitAny: rule shapes come from the rendered YAML.
function ruleMatches(rule: any, req: MeshRequest): boolean {
  const from: unknown[] | undefined = rule.from;
  if (from !== undefined) {
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    const ok = from.some((f: any) => {
      const s = f.source ?? {};
      if (s.namespaces || s.notNamespaces || s.ipBlocks || s.remoteIpBlocks || s.requestPrincipals) {
        throw new Error("the mesh model only understands principals in AuthorizationPolicy sources");
      }
      return anyMatch(s.principals, req.principal) && noneMatch(s.notPrincipals, req.principal);
    });
    if (!ok) return false;
  }
  const to: unknown[] | undefined = rule.to;
  if (to !== undefined) {
    // biome-ignore lint/suspicious/noExplicitAny: as above.
    const ok = to.some((t: any) => {
      const o = t.operation ?? {};
      if (o.hosts || o.notHosts) throw new Error("the mesh model does not understand hosts in operations");
      return (
        anyMatch(o.paths, req.path) &&
        noneMatch(o.notPaths, req.path) &&
        anyMatch(o.methods, req.method) &&
        noneMatch(o.notMethods, req.method) &&
        anyMatch(o.ports, String(req.port)) &&
        noneMatch(o.notPorts, String(req.port))
      );
    });
    if (!ok) return false;
  }
  if (rule.when !== undefined) throw new Error("the mesh model does not understand `when` conditions");
  return true;
}

function selects(policy: Manifest, req: MeshRequest, rootNamespace: string): boolean {
  const ns = policy.metadata.namespace ?? req.namespace;
  if (ns !== req.namespace && ns !== rootNamespace) return false;
  const labels: Record<string, string> | undefined = policy.spec?.selector?.matchLabels;
  if (!labels) return true;
  return Object.entries(labels).every(([k, v]) => req.workloadLabels[k] === v);
}

/**
 * Istio's authorization decision for a request (CUSTOM aside): denied when a DENY policy matches;
 * otherwise allowed when no ALLOW policy applies to the workload or one of their rules matches.
 * A policy with `spec: {}` is an ALLOW policy that matches nothing: it denies everything else.
 */
export function isAllowed(policies: Manifest[], req: MeshRequest, rootNamespace = "istio-system"): boolean {
  const applicable = policies.filter((p) => p.kind === "AuthorizationPolicy" && selects(p, req, rootNamespace));
  const action = (p: Manifest): string => p.spec?.action ?? "ALLOW";
  for (const p of applicable.filter((x) => action(x) === "DENY")) {
    if ((p.spec?.rules ?? []).some((r: unknown) => ruleMatches(r, req))) return false;
  }
  const allows = applicable.filter((x) => action(x) === "ALLOW");
  if (allows.length === 0) return true;
  return allows.some((p) => (p.spec?.rules ?? []).some((r: unknown) => ruleMatches(r, req)));
}
