import { camelCase, pascalCase, snakeCase } from "./names";
import type { RpcModel, ServiceModel } from "./proto-model";

/** Everything the templates need to know about the service being scaffolded. */
export interface Scaffold {
  /** Service (folder) name, e.g. "order-history". */
  name: string;
  service: ServiceModel;
  /** Key of each RPC in the generated grpc-js definition (ts-proto's method names), by RPC name. */
  handlerKeys: Record<string, string>;
  ports: { grpc: number; metrics: number };
  /** The first table: its TypeScript name, SQL name, row type and id column. */
  table: { constName: string; sqlName: string; rowType: string; idField: string; idColumn: string; resource: string };
  versions: { contracts: string; serviceKit: string; testing: string; grpcJs: string; drizzleOrm: string };
}

function plural(word: string): string {
  if (/[^aeiou]y$/.test(word)) return `${word.slice(0, -1)}ies`;
  if (/(s|x|z|ch|sh)$/.test(word)) return `${word}es`;
  return `${word}s`;
}

/**
 * The resource the first table is named after: the package's message that occurs in the most RPC
 * names (Order for PlaceOrder, GetOrder, ListOrders …), else one named after the service.
 */
export function tableFor(name: string, service: ServiceModel): Scaffold["table"] {
  let best: { resource: string; score: number } | undefined;
  for (const resource of service.resources) {
    const score = service.rpcs.filter((rpc) => rpc.name.includes(resource)).length;
    if (
      score > 0 &&
      (!best || score > best.score || (score === best.score && resource.length > best.resource.length))
    ) {
      best = { resource, score };
    }
  }
  const resource = best?.resource ?? pascalCase(name);
  const snake = snakeCase(resource);
  return {
    resource,
    constName: camelCase(plural(snake).replace(/_/g, "-")),
    sqlName: plural(snake),
    rowType: `${resource}Row`,
    idField: `${camelCase(snake.replace(/_/g, "-"))}Id`,
    idColumn: `${snake}_id`,
  };
}

/** A JSDoc line, with comment terminators defused. */
function doc(text: string): string {
  return text.replace(/\*\//g, "*\\/");
}

/** The package.json of the new workspace package, with the local runner's "agora" block. */
export function packageJson(s: Scaffold): string {
  const summary = s.service.comment.replace(/\.$/, "") || `The ${s.name} service`;
  return `${JSON.stringify(
    {
      name: `@agora/${s.name}`,
      version: "0.1.0",
      private: true,
      description: `${summary} (gRPC ${s.service.fullName}, port ${s.ports.grpc}).`,
      license: "Apache-2.0",
      main: "dist/main.js",
      // What the image ships of this workspace (the Dockerfile copies exactly these).
      files: ["dist", "drizzle"],
      scripts: {
        build: "tsc -p tsconfig.build.json",
        typecheck: "tsc -p tsconfig.json --noEmit",
        test: 'NODE_OPTIONS="--experimental-vm-modules --disable-warning=ExperimentalWarning" jest',
        start: "node dist/main.js",
        "db:generate": "drizzle-kit generate",
      },
      dependencies: {
        "@agora/contracts": s.versions.contracts,
        "@agora/service-kit": s.versions.serviceKit,
        "@grpc/grpc-js": s.versions.grpcJs,
        "drizzle-orm": s.versions.drizzleOrm,
      },
      devDependencies: {
        "@agora/testing": s.versions.testing,
      },
      agora: {
        grpcPort: s.ports.grpc,
        metricsPort: s.ports.metrics,
        database: true,
        downstreams: [],
        localEnv: {},
      },
    },
    null,
    2,
  )}\n`;
}

/** The tsconfig for typechecking (sources, tests, drizzle config) and the one for building. */
export function tsconfigs(): { check: string; build: string } {
  return {
    check: `${JSON.stringify(
      {
        extends: "../../tsconfig.base.json",
        compilerOptions: { rootDir: ".", types: ["node", "jest"] },
        include: ["src", "test", "drizzle.config.ts"],
      },
      null,
      2,
    )}\n`,
    build: `${JSON.stringify(
      { extends: "../../tsconfig.base.json", compilerOptions: { rootDir: "src", outDir: "dist" }, include: ["src"] },
      null,
      2,
    )}\n`,
  };
}

/** jest.config.js: the shared settings. */
export function jestConfig(): string {
  return 'module.exports = { ...require("../../jest.config.base.js") };\n';
}

/** drizzle.config.ts, as in services/catalog. */
export function drizzleConfig(): string {
  return `import { defineConfig } from "drizzle-kit";

// \`npm run db:generate\` writes a new SQL migration into drizzle/ after src/db/schema.ts changed.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.ts",
  out: "./drizzle",
});
`;
}

/** src/db/schema.ts: the first table, named after the service's main resource. */
export function schemaTs(s: Scaffold): string {
  const t = s.table;
  return `import { pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * The first table of the ${s.name} service: one row per ${t.resource}, keyed by its id.
 * Add the columns the service needs, then \`npm run db:generate -w @agora/${s.name}\` writes the migration.
 */
export const ${t.constName} = pgTable("${t.sqlName}", {
  ${t.idField}: text("${t.idColumn}").primaryKey(),
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
});

/** A row of ${t.sqlName}. */
export type ${t.rowType} = typeof ${t.constName}.$inferSelect;
`;
}

function serviceConst(s: Scaffold): string {
  return `${camelCase(s.name)}Service`;
}

function handlersFunction(s: Scaffold): string {
  return `${camelCase(s.name)}Handlers`;
}

/** src/main.ts: wiring on the service kit. */
export function mainTs(s: Scaffold): string {
  const summary = s.service.comment || `The ${s.name} service.`;
  return `import { join } from "node:path";
import { ${s.service.definitionName} } from "${s.service.importPath}";
import { defineService } from "@agora/service-kit";
import * as schema from "./db/schema";
import { ${handlersFunction(s)} } from "./grpc-handlers";

/** The ${s.name} service: ${doc(summary)} */
export const ${serviceConst(s)} = defineService({
  name: "${s.name}",
  ports: { grpc: ${s.ports.grpc}, metrics: ${s.ports.metrics} },
  database: { schema, migrationsFolder: join(__dirname, "..", "drizzle") },
  setup({ bind }) {
    return { grpc: [bind(${s.service.definitionName}, ${handlersFunction(s)}())] };
  },
});

if (require.main === module) ${serviceConst(s)}.main();
`;
}

function stub(s: Scaffold, rpc: RpcModel): string {
  const key = s.handlerKeys[rpc.name];
  const short = (typeName: string) => typeName.split(".").pop() ?? typeName;
  const streaming = rpc.kind === "server_streaming";
  const signature = `${rpc.name}(${short(rpc.requestType)}) → ${streaming ? "stream " : ""}${short(rpc.responseType)}`;
  const comment = rpc.comment ? `${signature}: ${doc(rpc.comment)}` : `${signature}.`;
  const params = streaming ? "_request, _context, _stream" : "_request, _context";
  return `    /** ${comment} */
    async ${key}(${params}) {
      throw notImplemented("${rpc.name}");
    },`;
}

/** src/grpc-handlers.ts: a typed handler per RPC, each answering UNIMPLEMENTED until written. */
export function handlersTs(s: Scaffold): string {
  return `import type { ${s.service.definitionName} } from "${s.service.importPath}";
import { DomainError, type ServiceHandlers } from "@agora/service-kit";
import { status } from "@grpc/grpc-js";

/** The answer of an RPC that is not written yet: UNIMPLEMENTED, naming the RPC. */
function notImplemented(rpc: string): DomainError {
  return new DomainError(status.UNIMPLEMENTED, \`${s.service.fullName}/\${rpc} is not implemented yet\`);
}

/** The ${s.service.name} RPCs. Each answers UNIMPLEMENTED until it is written. */
export function ${handlersFunction(s)}(): ServiceHandlers<typeof ${s.service.definitionName}> {
  return {
${s.service.rpcs.map((rpc) => stub(s, rpc)).join("\n")}
  };
}
`;
}

/** test/<name>-service.test.ts: health, reflection and UNIMPLEMENTED for every RPC, on a real Postgres. */
export function serviceTest(s: Scaffold): string {
  const unary = s.service.rpcs.filter((rpc) => rpc.kind === "unary");
  const streams = s.service.rpcs.filter((rpc) => rpc.kind === "server_streaming");
  const requestImports = new Map<string, Set<string>>();
  for (const rpc of streams) {
    const names = requestImports.get(rpc.requestImportPath) ?? new Set<string>();
    names.add(rpc.requestName);
    requestImports.set(rpc.requestImportPath, names);
  }
  if (streams.length > 0) {
    const names = requestImports.get(s.service.importPath) ?? new Set<string>();
    names.add(s.service.definitionName);
    requestImports.set(s.service.importPath, names);
  }
  const imports = [...requestImports]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([path, names]) => `import { ${[...names].sort().join(", ")} } from "${path}";`);
  const service = serviceConst(s);
  const rpcNames = s.service.rpcs.map((rpc) => `"${rpc.name}"`).join(", ");
  const unaryTest =
    unary.length === 0
      ? ""
      : `
  // Remove an RPC from this list once it is written, and test what it does instead.
  it.each([${unary.map((rpc) => `"${rpc.name}"`).join(", ")}])("answers UNIMPLEMENTED for %s until it is written", async (rpc) => {
    await expect(reflection.invoke(\`\${serviceName}/\${rpc}\`, {})).rejects.toMatchObject({
      code: status.UNIMPLEMENTED,
      details: \`\${serviceName}/\${rpc} is not implemented yet\`,
    });
  });
`;
  const streamTests = streams
    .map(
      (rpc) => `
  it("answers UNIMPLEMENTED for the stream ${rpc.name} until it is written", async () => {
    const stream = service.client(${s.service.definitionName}).${s.handlerKeys[rpc.name]}(${rpc.requestName}.fromPartial({}));
    const received: unknown[] = [];
    await expect(
      (async () => {
        for await (const message of stream) received.push(message);
      })(),
    ).rejects.toMatchObject({ code: status.UNIMPLEMENTED });
    expect(received).toEqual([]);
  });
`,
    )
    .join("");
  return `${imports.join("\n")}${imports.length > 0 ? "\n" : ""}import {
  checkHealth,
  createTestDatabase,
  ReflectionClient,
  type StartedService,
  startService,
  type TestDatabase,
} from "@agora/testing";
import { status } from "@grpc/grpc-js";
import { ${service} } from "../src/main";

const serviceName = "${s.service.fullName}";

describe("${s.name} service on a real Postgres database", () => {
  let database: TestDatabase;
  let service: StartedService<unknown, Record<string, unknown>>;
  let reflection: ReflectionClient;

  beforeAll(async () => {
    database = await createTestDatabase("${s.name}");
    service = await startService(${service}, { DATABASE_URL: database.url });
    reflection = new ReflectionClient(service.address);
  });

  afterAll(async () => {
    reflection?.close();
    await service?.stop();
    await database?.drop();
  });

  it("reports SERVING for the server and for ${s.service.name}", async () => {
    expect(await checkHealth(service.address)).toBe("SERVING");
    expect(await checkHealth(service.address, serviceName)).toBe("SERVING");
  });

  it("describes ${s.service.name} with every RPC through reflection", async () => {
    expect(await reflection.listServices()).toContain(serviceName);
    const described = await reflection.describe(serviceName);
    expect(described.kind === "service" ? described.methods.map((method) => method.name).sort() : described.kind).toEqual(
      [${rpcNames}].sort(),
    );
  });
${unaryTest}${streamTests}});
`;
}
