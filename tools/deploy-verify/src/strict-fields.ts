import { dirname, resolve } from "node:path";
import ts from "typescript";
import type { Manifest } from "./helm";
import { repoRoot } from "./paths";

// The JSON schemas of the Kubernetes API accept unknown fields (the API server prunes or rejects them
// depending on its field validation mode), so a misspelt key passes them. Type declarations list every
// field, so this walks a document along them and reports every key that the type does not declare.
// Kubernetes kinds are walked along kubernetes-types 1.30.0, the API of Kubernetes 1.30 exactly: a field
// added in a later release is an unknown field here, even though kubernetes-models' newer schemas
// (5.1.0, generated from Kubernetes 1.36) accept it. Istio kinds use @kubernetes-models/istio.

let checker: ts.TypeChecker | undefined;
let program: ts.Program | undefined;
const rootTypes = new Map<string, ts.Type>();

/** The declaration file and exported type name of a kind. */
function declarationOf(apiVersion: string, kind: string): { file: string; typeName: string } {
  const nm = resolve(repoRoot, "node_modules");
  const slash = apiVersion.indexOf("/");
  const group = slash < 0 ? "core" : apiVersion.slice(0, slash);
  const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
  if (group.endsWith(".istio.io")) {
    return { file: resolve(nm, "@kubernetes-models/istio", group, version, `${kind}.d.ts`), typeName: `I${kind}` };
  }
  return { file: resolve(nm, "kubernetes-types", group.replace(/\.k8s\.io$/, ""), `${version}.d.ts`), typeName: kind };
}

const knownKinds = [
  ["v1", "ConfigMap"],
  ["v1", "Pod"],
  ["v1", "Secret"],
  ["v1", "Service"],
  ["v1", "ServiceAccount"],
  ["apps/v1", "Deployment"],
  ["apps/v1", "StatefulSet"],
  ["batch/v1", "Job"],
  ["policy/v1", "PodDisruptionBudget"],
  ["autoscaling/v2", "HorizontalPodAutoscaler"],
  ["networking.istio.io/v1", "DestinationRule"],
  ["networking.istio.io/v1", "Gateway"],
  ["networking.istio.io/v1", "VirtualService"],
  ["security.istio.io/v1", "AuthorizationPolicy"],
  ["security.istio.io/v1", "PeerAuthentication"],
  ["install.istio.io/v1alpha1", "IstioOperator"],
] as const;

function init(): void {
  if (checker) return;
  const files = [...new Set(knownKinds.map(([v, k]) => declarationOf(v, k).file))];
  program = ts.createProgram(files, {
    noEmit: true,
    skipLibCheck: true,
    strict: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
    baseUrl: dirname(files[0] as string),
  });
  checker = program.getTypeChecker();
}

function rootType(apiVersion: string, kind: string): ts.Type | undefined {
  init();
  const key = `${apiVersion}/${kind}`;
  if (rootTypes.has(key)) return rootTypes.get(key);
  const { file, typeName } = declarationOf(apiVersion, kind);
  const sf = program?.getSourceFile(file);
  if (!sf || !checker) return undefined;
  const moduleSymbol = checker.getSymbolAtLocation(sf);
  const exported = moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : [];
  const iface = exported.find((s) => s.getName() === typeName);
  if (!iface) return undefined;
  const type = checker.getDeclaredTypeOfSymbol(iface);
  rootTypes.set(key, type);
  return type;
}

function isObjectLike(t: ts.Type): boolean {
  return (t.flags & ts.TypeFlags.Object) !== 0 || (t.flags & ts.TypeFlags.Intersection) !== 0;
}

function walk(value: unknown, type: ts.Type, path: string, errors: string[]): void {
  const c = checker as ts.TypeChecker;
  if (value === null || value === undefined) return;
  if ((type.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0) return;
  const t = c.getNonNullableType(type);
  if (t.isUnion()) {
    const candidates = t.types.filter((m) => (Array.isArray(value) ? c.isArrayType(m) : isObjectLike(m)));
    if (typeof value !== "object" || candidates.length === 0) return;
    let best: string[] | undefined;
    for (const m of candidates) {
      const e: string[] = [];
      walk(value, m, path, e);
      if (e.length === 0) return;
      if (!best || e.length < best.length) best = e;
    }
    errors.push(...(best ?? []));
    return;
  }
  if (Array.isArray(value)) {
    if (!c.isArrayType(t)) return;
    const [element] = c.getTypeArguments(t as ts.TypeReference);
    if (!element) return;
    value.forEach((v, i) => {
      walk(v, element, `${path}[${i}]`, errors);
    });
    return;
  }
  if (typeof value !== "object" || !isObjectLike(t)) return;
  const index = c.getIndexInfoOfType(t, ts.IndexKind.String);
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const prop = c.getPropertyOfType(t, key);
    const at = path ? `${path}.${key}` : key;
    if (prop) {
      walk(v, c.getTypeOfSymbol(prop), at, errors);
    } else if (index) {
      walk(v, index.type, at, errors);
    } else {
      errors.push(`unknown field "${at}"`);
    }
  }
}

/**
 * Fields whose CRD schema preserves unknown fields, so the model declares nothing below them: the
 * IstioOperator CRD leaves its whole spec open (istioctl validates it at install time).
 */
export const openFields: Record<string, string[]> = { "install.istio.io/v1alpha1/IstioOperator": ["spec"] };

/** Keys in a document that its model does not declare ("unknown field spec.template.spec.containers[0].imagePolicy"). */
export function strictFieldErrors(doc: Manifest): string[] {
  const type = rootType(doc.apiVersion, doc.kind);
  if (!type) return [`no declared type for ${doc.apiVersion}/${doc.kind}`];
  const errors: string[] = [];
  const open = new Set(openFields[`${doc.apiVersion}/${doc.kind}`] ?? []);
  const checked = Object.fromEntries(Object.entries(doc).filter(([k]) => !open.has(k)));
  walk(checked, type, "", errors);
  return errors;
}
