import { existsSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { repoRoot } from "./paths";

// The gRPC methods a service really calls, read from its code rather than from the chart: every use of
// a method of a kit client. Services make clients with the setup context's `client(Definition, …)`,
// typed PromiseClient<typeof XServiceService>; the generated definition gives each method's gRPC path
// as a string literal type, so the type checker names the exact path of every call.

/** One method of a downstream service used by a service's code. */
export interface ClientCall {
  /** gRPC path, /package.Service/Method. */
  path: string;
  /** Where, as file:line relative to the repository. */
  at: string;
}

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .flatMap((entry) => {
      const p = join(dir, entry);
      if (statSync(p).isDirectory()) return sourceFiles(p);
      return entry.endsWith(".ts") && !entry.endsWith(".d.ts") ? [p] : [];
    })
    .sort();
}

function compilerOptions(): ts.CompilerOptions {
  const file = join(repoRoot, "tsconfig.base.json");
  const read = ts.readConfigFile(file, ts.sys.readFile);
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, "\n"));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, repoRoot);
  return { ...parsed.options, noEmit: true, declaration: false, declarationMap: false, sourceMap: false };
}

/** The kit's client type: PromiseClient<D>, D the generated service definition. */
function clientDefinition(type: ts.Type): ts.Type | undefined {
  const alias = type.aliasSymbol?.getName();
  return alias === "PromiseClient" ? type.aliasTypeArguments?.[0] : undefined;
}

function literalPath(checker: ts.TypeChecker, definition: ts.Type, method: string): string | undefined {
  const property = checker.getPropertyOfType(definition, method);
  if (!property) return undefined;
  const methodType = checker.getTypeOfSymbol(property);
  const pathSymbol = checker.getPropertyOfType(methodType, "path");
  if (!pathSymbol) return undefined;
  const pathType = checker.getTypeOfSymbol(pathSymbol);
  return pathType.isStringLiteral() ? pathType.value : undefined;
}

/** Methods of the client object itself, not RPCs. */
const clientOwnMembers = new Set(["close", "circuitState"]);

/**
 * Every gRPC method the code in `files` uses through a kit client (PromiseClient). Throws when a
 * client is indexed with a computed name, since then the method cannot be known statically.
 */
export function clientCallsIn(files: string[]): ClientCall[] {
  if (files.length === 0) return [];
  const program = ts.createProgram(files, compilerOptions());
  const checker = program.getTypeChecker();
  const calls: ClientCall[] = [];
  for (const file of files) {
    const source = program.getSourceFile(file);
    if (!source) continue;
    const where = (node: ts.Node): string =>
      `${relative(repoRoot, file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
    const visit = (node: ts.Node): void => {
      if (ts.isPropertyAccessExpression(node) || ts.isElementAccessExpression(node)) {
        const definition = clientDefinition(checker.getTypeAtLocation(node.expression));
        if (definition) {
          const name = ts.isPropertyAccessExpression(node)
            ? node.name.text
            : ts.isStringLiteralLike(node.argumentExpression)
              ? node.argumentExpression.text
              : undefined;
          if (name === undefined) throw new Error(`${where(node)}: a kit client indexed with a computed method name`);
          if (!clientOwnMembers.has(name)) {
            const path = literalPath(checker, definition, name);
            if (!path) throw new Error(`${where(node)}: ${name} is not a method with a literal gRPC path`);
            calls.push({ path, at: where(node) });
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return calls;
}

/**
 * The gRPC calls the sources (src/, tests aside) of every service under services/ make through kit
 * clients, by service folder name; services that call nobody this way are left out.
 */
export function serviceClientCalls(): Map<string, ClientCall[]> {
  const services = readdirSync(join(repoRoot, "services")).sort();
  const files = services.flatMap((service) => sourceFiles(join(repoRoot, "services", service, "src")));
  const out = new Map<string, ClientCall[]>();
  for (const call of clientCallsIn(files)) {
    const service = call.at.split("/")[1] as string;
    out.set(service, [...(out.get(service) ?? []), call]);
  }
  return out;
}
