// Validates Kubernetes and Istio documents with the models of kubernetes-models and
// @kubernetes-models/istio (JSON-schema validators generated from the Kubernetes OpenAPI and the Istio
// CRDs). Both packages ship only ES modules, so this runs as its own Node process (Node 24 strips the
// types): stdin = JSON array of documents, stdout = JSON array of {index, error} (empty when valid).
import { readFileSync } from "node:fs";

interface Doc {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string };
}

interface Problem {
  index: number;
  error: string;
}

/** Import path of the model class for an apiVersion and kind, or undefined when no package has one. */
export function modelModule(apiVersion: string, kind: string): string | undefined {
  if (!/^[A-Za-z0-9]+$/.test(kind)) return undefined;
  const slash = apiVersion.indexOf("/");
  if (slash < 0) return `kubernetes-models/${apiVersion}/${kind}`;
  const group = apiVersion.slice(0, slash);
  const version = apiVersion.slice(slash + 1);
  if (group.endsWith(".istio.io")) return `@kubernetes-models/istio/${group}/${version}/${kind}`;
  if (group.includes(".") && !group.endsWith(".k8s.io")) return undefined;
  return `kubernetes-models/${group}/${version}/${kind}`;
}

async function validate(doc: Doc): Promise<string | undefined> {
  const mod = doc.apiVersion && doc.kind ? modelModule(doc.apiVersion, doc.kind) : undefined;
  if (!mod) return `no model for ${doc.apiVersion}/${doc.kind}`;
  let Model: (new (data: unknown) => { validate(): void }) | undefined;
  try {
    Model = (await import(mod))[doc.kind as string];
  } catch {
    return `no model for ${doc.apiVersion}/${doc.kind} (${mod})`;
  }
  if (!Model) return `no model for ${doc.apiVersion}/${doc.kind}`;
  try {
    new Model(doc).validate();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

async function main(): Promise<void> {
  const docs = JSON.parse(readFileSync(0, "utf8")) as Doc[];
  const problems: Problem[] = [];
  for (const [index, doc] of docs.entries()) {
    const error = await validate(doc);
    if (error) problems.push({ index, error });
  }
  process.stdout.write(JSON.stringify(problems));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
