import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse } from "yaml";
import { contextOf, nameProblem } from "./names";
import { protoFiles, protoFolder, readDescriptorSet, readServices, type ServiceModel } from "./proto-model";
import { type RegisteredFile, registerEverywhere } from "./registration";
import { nextPorts, workspacePackages } from "./repo";
import {
  drizzleConfig,
  handlersTs,
  jestConfig,
  mainTs,
  packageJson,
  type Scaffold,
  schemaTs,
  serviceTest,
  tableFor,
  tsconfigs,
} from "./templates";

/** A request the generator refuses (bad name, taken name, no proto): nothing was changed. */
export class RefusedError extends Error {
  override name = "RefusedError";
}

/** Options of one generation. */
export interface GenerateOptions {
  /** Repository root. */
  root: string;
  /** Service name, e.g. "order-history". */
  name: string;
  /** Which service of the proto package, when it defines several. */
  serviceName?: string;
  /** Skip regenerating and building packages/contracts (when they are fresh already). */
  skipContracts?: boolean;
  /** Progress messages. */
  log?: (message: string) => void;
}

/** What was generated. */
export interface GenerateResult {
  folder: string;
  packageName: string;
  service: ServiceModel;
  ports: { grpc: number; metrics: number };
  migration: string;
  registered: RegisteredFile[];
}

function run(root: string, command: string, args: string[], cwd: string, what: string): void {
  try {
    execFileSync(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", env: process.env });
  } catch (error) {
    const failure = error as { stdout?: string; stderr?: string; message: string };
    const output = `${failure.stdout ?? ""}${failure.stderr ?? ""}`.trim() || failure.message;
    throw new Error(`${what} failed (${[command, ...args].join(" ").replace(root, ".")}):\n${output}`);
  }
}

function bin(root: string, name: string): string {
  const path = join(root, "node_modules", ".bin", name);
  if (!existsSync(path)) throw new Error(`${path} is missing: run npm install at the root first`);
  return path;
}

function versionOf(root: string, folder: string): string {
  return (JSON.parse(readFileSync(join(root, folder, "package.json"), "utf8")) as { version: string }).version;
}

function dependencyOf(root: string, folder: string, dependency: string): string {
  const pkg = JSON.parse(readFileSync(join(root, folder, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  const version = pkg.dependencies?.[dependency];
  if (!version) throw new Error(`${folder}/package.json does not depend on ${dependency}`);
  return version;
}

/** Checks everything that can be checked before changing anything; throws {@link RefusedError}. */
export function preflight(root: string, name: string): { context: string } {
  const problem = nameProblem(name);
  if (problem) throw new RefusedError(problem);
  const context = contextOf(name);
  if (existsSync(join(root, "services", name))) throw new RefusedError(`services/${name} exists already`);
  const packageName = `@agora/${name}`;
  const clash = workspacePackages(root).find((pkg) => pkg.name === packageName || pkg.folder.endsWith(`/${name}`));
  if (clash) throw new RefusedError(`the name is taken: ${clash.folder} is ${clash.name}`);
  const valuesPath = join(root, "charts/agora/values.yaml");
  if (existsSync(valuesPath)) {
    const values = parse(readFileSync(valuesPath, "utf8")) as { services?: Record<string, unknown> };
    if (values.services?.[name] !== undefined) {
      throw new RefusedError(`the name is taken: charts/agora/values.yaml declares services.${name}`);
    }
  }
  if (protoFiles(root, context).length === 0) {
    throw new RefusedError(
      `no proto for "${name}": ${protoFolder(context)}/ has no .proto files. Write the contract first, ` +
        `for example ${protoFolder(context)}/${name.replace(/-/g, "_")}_service.proto with ` +
        `"package agora.${context}.v1;" and a service (see proto/agora/catalog/v1/catalog_service.proto).`,
    );
  }
  return { context };
}

/** The ts-proto method key of each RPC, read from the built contracts (what ServiceHandlers is typed by). */
function handlerKeys(root: string, service: ServiceModel): Record<string, string> {
  const modulePath = join(root, "packages/contracts/dist/gen", `${service.file.replace(/\.proto$/, "")}.js`);
  if (!existsSync(modulePath)) {
    throw new Error(`${modulePath} is missing: packages/contracts was not built after generating`);
  }
  const module = require(modulePath) as Record<string, Record<string, { path?: string }> | undefined>;
  const definition = module[service.definitionName];
  if (!definition) throw new Error(`${modulePath} does not export ${service.definitionName}`);
  const keys: Record<string, string> = {};
  for (const rpc of service.rpcs) {
    const key = Object.keys(definition).find((candidate) => definition[candidate]?.path === rpc.path);
    if (!key) throw new Error(`${service.definitionName} has no method for ${rpc.path}`);
    keys[rpc.name] = key;
  }
  return keys;
}

function takenPorts(root: string): { grpc: number[]; metrics: number[] } {
  const grpc: number[] = [];
  const metrics: number[] = [];
  for (const pkg of workspacePackages(root)) {
    if (pkg.agora?.grpcPort) grpc.push(pkg.agora.grpcPort);
    if (pkg.agora?.metricsPort) metrics.push(pkg.agora.metricsPort);
  }
  const valuesPath = join(root, "charts/agora/values.yaml");
  if (existsSync(valuesPath)) {
    const values = parse(readFileSync(valuesPath, "utf8")) as {
      services?: Record<string, { grpcPort?: number; metricsPort?: number }>;
    };
    for (const service of Object.values(values.services ?? {})) {
      if (service.grpcPort) grpc.push(service.grpcPort);
      if (service.metricsPort) metrics.push(service.metricsPort);
    }
  }
  return { grpc, metrics };
}

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/**
 * Scaffolds services/<name> from proto/agora/<context>/v1: regenerates and builds packages/contracts,
 * reads the service from the compiled descriptors, writes the workspace package (wiring, handler
 * stubs, schema, first migration via drizzle-kit, tests), and registers it in the chart values,
 * skaffold.yaml and the Tiltfile. On failure the new folder is removed and no registration is written.
 */
export function generateService(options: GenerateOptions): GenerateResult {
  const { root, name } = options;
  const log = options.log ?? (() => {});
  const { context } = preflight(root, name);

  if (!options.skipContracts) {
    log(`compiling proto/ into packages/contracts (buf lint, generate, build) …`);
    run(
      root,
      process.execPath,
      [join(root, "packages/contracts/scripts/generate.mts")],
      join(root, "packages/contracts"),
      "npm run generate",
    );
    run(
      root,
      process.execPath,
      [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
      join(root, "packages/contracts"),
      "building packages/contracts",
    );
  }

  const services = readServices(readDescriptorSet(root), context);
  if (services.length === 0) {
    throw new RefusedError(`${protoFolder(context)}/ defines no service in package agora.${context}.v1`);
  }
  let service = services[0] as ServiceModel;
  if (options.serviceName) {
    const chosen = services.find((candidate) => candidate.name === options.serviceName);
    if (!chosen) {
      throw new RefusedError(
        `agora.${context}.v1 has no service ${options.serviceName}; it has ${services.map((s) => s.name).join(", ")}`,
      );
    }
    service = chosen;
  } else if (services.length > 1) {
    throw new RefusedError(
      `agora.${context}.v1 defines ${services.length} services (${services.map((s) => s.name).join(", ")}): pick one with --service`,
    );
  }
  const unsupported = service.rpcs.filter((rpc) => rpc.kind === "client_streaming" || rpc.kind === "bidi_streaming");
  if (unsupported.length > 0) {
    throw new RefusedError(
      `${unsupported.map((rpc) => rpc.name).join(", ")}: client streaming is not supported by the service kit`,
    );
  }
  if (service.rpcs.length === 0) throw new RefusedError(`${service.fullName} has no RPCs`);

  const scaffold: Scaffold = {
    name,
    service,
    handlerKeys: handlerKeys(root, service),
    ports: nextPorts(takenPorts(root)),
    table: tableFor(name, service),
    versions: {
      contracts: versionOf(root, "packages/contracts"),
      serviceKit: versionOf(root, "packages/service-kit"),
      testing: versionOf(root, "packages/testing"),
      grpcJs: dependencyOf(root, "packages/service-kit", "@grpc/grpc-js"),
      drizzleOrm: dependencyOf(root, "packages/service-kit", "drizzle-orm"),
    },
  };

  const folder = join(root, "services", name);
  log(`writing services/${name} …`);
  try {
    const configs = tsconfigs();
    write(join(folder, "package.json"), packageJson(scaffold));
    write(join(folder, "tsconfig.json"), configs.check);
    write(join(folder, "tsconfig.build.json"), configs.build);
    write(join(folder, "jest.config.js"), jestConfig());
    write(join(folder, "drizzle.config.ts"), drizzleConfig());
    write(join(folder, "src/main.ts"), mainTs(scaffold));
    write(join(folder, "src/grpc-handlers.ts"), handlersTs(scaffold));
    write(join(folder, "src/db/schema.ts"), schemaTs(scaffold));
    write(join(folder, "test", `${name}-service.test.ts`), serviceTest(scaffold));

    log("generating the first migration (drizzle-kit generate) …");
    run(root, bin(root, "drizzle-kit"), ["generate", "--name", scaffold.table.sqlName], folder, "drizzle-kit generate");
    const migration = readdirSync(join(folder, "drizzle")).find((file) => file.endsWith(".sql"));
    if (!migration) throw new Error("drizzle-kit wrote no migration");

    // The templates are close to the formatter's output; let it have the last word.
    const biome = join(root, "node_modules", ".bin", "biome");
    if (existsSync(biome) && existsSync(join(root, "biome.json"))) {
      run(root, biome, ["check", "--write", "--vcs-enabled=false", `services/${name}`], root, "biome check");
    }

    const registered = registerEverywhere(root, {
      name,
      service,
      ports: scaffold.ports,
      nats: service.events.length > 0,
    });
    return {
      folder: `services/${name}`,
      packageName: `@agora/${name}`,
      service,
      ports: scaffold.ports,
      migration: `services/${name}/drizzle/${migration}`,
      registered,
    };
  } catch (error) {
    rmSync(folder, { recursive: true, force: true });
    throw error;
  }
}

/** The next steps printed after a generation. */
export function nextSteps(result: GenerateResult): string {
  const { service } = result;
  const exposed = service.rpcs.filter((rpc) => rpc.http).map((rpc) => rpc.name);
  const lines = [
    `Created ${result.folder} (${result.packageName}): ${service.fullName} with ${service.rpcs.length} RPC(s), ` +
      `gRPC port ${result.ports.grpc}, metrics port ${result.ports.metrics}.`,
    `  first migration: ${result.migration}`,
    `  local runner: the "agora" block in ${result.folder}/package.json`,
    ...result.registered.map((file) => `  registered in ${file}`),
    ...(exposed.length > 0 && result.registered.includes("charts/agora/values.yaml")
      ? [`  the gateway may call ${exposed.join(", ")} (their (agora.options.v1.http) routes)`]
      : []),
    "",
    "Next steps:",
    "  1. npm install                 # links the new workspace and records it in package-lock.json",
    `  2. npx turbo run build test --filter=${result.packageName}`,
    `  3. write the RPCs in ${result.folder}/src/grpc-handlers.ts (each answers UNIMPLEMENTED until then)`,
    `     and take each from the UNIMPLEMENTED list in ${result.folder}/test/ as you go`,
    `  4. model the data in ${result.folder}/src/db/schema.ts, then npm run db:generate -w ${result.packageName}`,
    `  5. downstream calls: ctx.client(...) in src/main.ts, their names in "agora.downstreams" of package.json,`,
    `     and the methods under services.${result.folder.split("/")[1]}.calls in charts/agora/values.yaml`,
    ...(service.events.length > 0
      ? [
          `  6. publish ${service.events.join(", ")} through the outbox: events: { publishes: [...] } in`,
          "     defineService, as services/catalog/src/main.ts does",
        ]
      : []),
    `  ${service.events.length > 0 ? 7 : 6}. ./agora up   # runs it with the rest of Agora`,
    "",
    `Commit: git add ${result.folder} packages/contracts package-lock.json ${result.registered.join(" ")}`,
  ];
  return lines.join("\n");
}
