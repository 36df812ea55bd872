import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { protoDir } from "./paths";

/** One RPC of a proto service. */
export interface ProtoMethod {
  name: string;
  /** gRPC path, /package.Service/Method. */
  path: string;
  /** True when the RPC carries an (agora.options.v1.http) option, i.e. the gateway exposes it. */
  http: boolean;
}

/** One gRPC service declared in proto/. */
export interface ProtoService {
  /** Fully qualified name, package.Service. */
  fullName: string;
  file: string;
  methods: ProtoMethod[];
}

function protoFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...protoFiles(p));
    else if (entry.endsWith(".proto")) out.push(p);
  }
  return out.sort();
}

function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "");
}

/** Index just past the brace that closes the one at `open`. */
function closingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}") {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  throw new Error("unbalanced braces in proto file");
}

/** Parses the services of one proto source text. */
export function parseServices(text: string, file = "<text>"): ProtoService[] {
  const src = stripComments(text);
  const pkg = /^\s*package\s+([\w.]+)\s*;/m.exec(src)?.[1];
  const services: ProtoService[] = [];
  const serviceRe = /\bservice\s+(\w+)\s*\{/g;
  for (let m = serviceRe.exec(src); m; m = serviceRe.exec(src)) {
    const open = m.index + m[0].length - 1;
    const body = src.slice(open + 1, closingBrace(src, open) - 1);
    const fullName = pkg ? `${pkg}.${m[1]}` : (m[1] as string);
    const methods: ProtoMethod[] = [];
    const rpcRe = /\brpc\s+(\w+)\s*\([^)]*\)\s*returns\s*\([^)]*\)\s*([;{])/g;
    for (let r = rpcRe.exec(body); r; r = rpcRe.exec(body)) {
      let options = "";
      if (r[2] === "{") {
        const start = r.index + r[0].length - 1;
        const end = closingBrace(body, start);
        options = body.slice(start, end);
        rpcRe.lastIndex = end;
      }
      const name = r[1] as string;
      methods.push({ name, path: `/${fullName}/${name}`, http: /\(\s*agora\.options\.v1\.http\s*\)/.test(options) });
    }
    services.push({ fullName, file, methods });
  }
  return services;
}

/** Every gRPC service declared under proto/. */
export function loadProtoServices(dir = protoDir): ProtoService[] {
  return protoFiles(dir).flatMap((f) => parseServices(readFileSync(f, "utf8"), f));
}
