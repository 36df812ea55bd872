import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  checkHealth,
  createTestDatabase,
  ReflectionClient,
  type ServiceProcess,
  spawnServiceProcess,
  type TestDatabase,
} from "@agora/testing";
import { parse } from "yaml";
import { copyRepo, parcelLockerProto, repoRoot, type TempRepo, writeInto } from "./temp-repo";

const tool = join(__dirname, "../dist/main.js");
const serviceName = "agora.parcellocker.v1.ParcelLockerService";

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const result = spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: "", ...env },
    timeout: 90_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, output: result.stdout + result.stderr };
}

function newService(root: string, ...args: string[]) {
  return run(process.execPath, [tool, ...args, "--root", root], root);
}

/** True when every line of `before` appears in `after`, in order (only lines were added). */
function onlyAdded(before: string, after: string): boolean {
  const added = after.split("\n");
  let at = 0;
  for (const line of before.split("\n")) {
    while (at < added.length && added[at] !== line) at++;
    if (at === added.length) return false;
    at++;
  }
  return true;
}

describe("new-service in a throwaway copy of the repository", () => {
  let repo: TempRepo;
  let generated: ReturnType<typeof run>;
  const before: Record<string, string> = {};
  const registrationFiles = ["charts/agora/values.yaml", "skaffold.yaml", "Tiltfile"];
  let database: TestDatabase | undefined;
  let service: ServiceProcess | undefined;

  beforeAll(() => {
    repo = copyRepo();
    writeInto(repo.root, "proto/agora/parcellocker/v1/parcel_locker_service.proto", parcelLockerProto);
    for (const file of registrationFiles) before[file] = readFileSync(join(repo.root, file), "utf8");
    generated = newService(repo.root, "parcel-locker");
  }, 120_000);

  afterAll(async () => {
    await service?.stop();
    await database?.drop();
    repo?.remove();
  });

  const at = (path: string) => join(repo.root, path);
  const folder = "services/parcel-locker";

  it("scaffolds services/parcel-locker with the next free ports and prints the next steps", () => {
    expect(generated.stderr).not.toMatch(/failed|refused/);
    expect(generated.code).toBe(0);
    expect(generated.stdout).toContain(
      "Created services/parcel-locker (@agora/parcel-locker): agora.parcellocker.v1.ParcelLockerService with 3 RPC(s)",
    );
    expect(generated.stdout).toContain("npm install");
    const pkg = JSON.parse(readFileSync(at(`${folder}/package.json`), "utf8"));
    expect(pkg.name).toBe("@agora/parcel-locker");
    // What the image ships of it: the Dockerfile copies each workspace's `files` and stops without them.
    expect(pkg.files).toEqual(["dist", "drizzle"]);
    // Ports: after every port the real services and the chart use (50051–50058 and 9450–9458 at least).
    const values = parse(before["charts/agora/values.yaml"] as string);
    const chartPorts = Object.values(values.services as Record<string, { grpcPort?: number; metricsPort: number }>);
    const servicePorts = readdirSync(join(repoRoot, "services"))
      .filter((name) => existsSync(join(repoRoot, "services", name, "package.json")))
      .map((name) => JSON.parse(readFileSync(join(repoRoot, "services", name, "package.json"), "utf8")).agora ?? {});
    const grpcTaken = [50058, ...chartPorts.map((s) => s.grpcPort ?? 0), ...servicePorts.map((a) => a.grpcPort ?? 0)];
    const metricsTaken = [
      9458,
      ...chartPorts.map((s) => s.metricsPort),
      ...servicePorts.map((a) => a.metricsPort ?? 0),
    ];
    expect(pkg.agora).toEqual({
      grpcPort: Math.max(...grpcTaken) + 1,
      metricsPort: Math.max(...metricsTaken) + 1,
      database: true,
      downstreams: [],
      localEnv: {},
    });
    for (const file of [
      "tsconfig.json",
      "tsconfig.build.json",
      "jest.config.js",
      "drizzle.config.ts",
      "src/main.ts",
      "src/grpc-handlers.ts",
      "src/db/schema.ts",
      "test/parcel-locker-service.test.ts",
      "drizzle/meta/_journal.json",
    ]) {
      expect(existsSync(at(`${folder}/${file}`))).toBe(true);
    }
    expect(readFileSync(at(`${folder}/src/main.ts`), "utf8")).toContain(
      `ports: { grpc: ${pkg.agora.grpcPort}, metrics: ${pkg.agora.metricsPort} }`,
    );
    const handlers = readFileSync(at(`${folder}/src/grpc-handlers.ts`), "utf8");
    for (const rpc of ["getLocker", "reserveCompartment", "watchLocker"]) expect(handlers).toContain(`async ${rpc}(`);
    const migrations = readdirSync(at(`${folder}/drizzle`)).filter((file) => file.endsWith(".sql"));
    expect(migrations).toEqual(["0000_lockers.sql"]);
    expect(readFileSync(at(`${folder}/drizzle/0000_lockers.sql`), "utf8")).toMatch(
      /CREATE TABLE "lockers" \(\n\t"locker_id" text PRIMARY KEY NOT NULL,/,
    );
  });

  it("registers it in the chart values (and the gateway's calls), skaffold.yaml and the Tiltfile, only adding lines", () => {
    const pkg = JSON.parse(readFileSync(at(`${folder}/package.json`), "utf8"));
    const valuesText = readFileSync(at("charts/agora/values.yaml"), "utf8");
    const values = parse(valuesText);
    expect(values.services["parcel-locker"]).toEqual({
      enabled: true,
      image: { repository: "agora-parcel-locker", tag: "" },
      grpcService: serviceName,
      grpcPort: pkg.agora.grpcPort,
      metricsPort: pkg.agora.metricsPort,
      database: true,
      nats: false,
      streamingMethods: ["WatchLocker"],
      calls: {},
    });
    expect(values.services.gateway.calls["parcel-locker"]).toEqual(["GetLocker"]);
    expect(Object.keys(values.services).at(-1)).toBe("gateway");
    for (const file of registrationFiles) {
      const after = readFileSync(at(file), "utf8");
      expect(after).not.toBe(before[file]);
      expect(onlyAdded(before[file] as string, after)).toBe(true);
    }
    const skaffold = parse(readFileSync(at("skaffold.yaml"), "utf8"));
    const index = skaffold.build.artifacts.findIndex((a: { image: string }) => a.image === "agora-parcel-locker");
    expect(skaffold.build.artifacts[index].docker.buildArgs).toEqual({ SERVICE: "parcel-locker" });
    const dev = skaffold.profiles.find((p: { name: string }) => p.name === "dev");
    expect(dev.patches).toContainEqual({
      op: "add",
      path: `/build/artifacts/${index}/sync`,
      value: { manual: [{ src: "services/parcel-locker/src/**/*.ts", dest: "/app" }] },
    });
    expect(readFileSync(at("Tiltfile"), "utf8")).toContain(`    "parcel-locker": ${pkg.agora.grpcPort},\n`);
  });

  it("passes the repository's deployment checks with the new service (tools/deploy-verify in the copy)", () => {
    const result = run(
      process.execPath,
      [
        at("node_modules/jest/bin/jest.js"),
        "test/values-schema.test.ts",
        "test/dev-loop.test.ts",
        "test/invariants.test.ts",
      ],
      at("tools/deploy-verify"),
      {
        HELM: process.env.HELM ?? join(repoRoot, "tools/helm-render/helm"),
        TILT_RENDER: process.env.TILT_RENDER ?? join(repoRoot, "tools/tilt-render/tilt-render"),
      },
    );
    expect(result.output).toMatch(/Tests: +\d+ passed/);
    expect(result.code).toBe(0);
  }, 90_000);

  it("builds, typechecks and passes the linter", () => {
    const tsc = at("node_modules/typescript/bin/tsc");
    const build = run(process.execPath, [tsc, "-p", "tsconfig.build.json"], at(folder));
    expect(build.output).toBe("");
    expect(build.code).toBe(0);
    const check = run(process.execPath, [tsc, "-p", "tsconfig.json", "--noEmit"], at(folder));
    expect(check.output).toBe("");
    expect(check.code).toBe(0);
    const lint = run(at("node_modules/.bin/biome"), ["ci", "--vcs-enabled=false", folder], repo.root);
    expect(lint.code).toBe(0);
  }, 60_000);

  it("starts as a process: health SERVING, reflection describes it, an RPC answers UNIMPLEMENTED", async () => {
    database = await createTestDatabase("new_service");
    service = await spawnServiceProcess(at(`${folder}/dist/main.js`), { DATABASE_URL: database.url });
    expect(await checkHealth(service.address)).toBe("SERVING");
    expect(await checkHealth(service.address, serviceName)).toBe("SERVING");
    const reflection = new ReflectionClient(service.address);
    try {
      expect(await reflection.listServices()).toContain(serviceName);
      const described = await reflection.describe(serviceName);
      expect(described.kind === "service" ? described.methods.map((method) => method.name) : []).toEqual([
        "GetLocker",
        "ReserveCompartment",
        "WatchLocker",
      ]);
      // GetLockerResponse carries a Locker with a google.protobuf.Timestamp: the imports resolve too.
      await expect(reflection.describe("agora.parcellocker.v1.GetLockerResponse")).resolves.toBeDefined();
      await expect(reflection.invoke(`${serviceName}/GetLocker`, { lockerId: "l-1" })).rejects.toMatchObject({
        code: 12,
        details: `${serviceName}/GetLocker is not implemented yet`,
      });
    } finally {
      reflection.close();
    }
  }, 60_000);

  it("passes the test it generated for itself", () => {
    const result = run(process.execPath, [at("node_modules/jest/bin/jest.js")], at(folder), {
      NODE_OPTIONS: "--experimental-vm-modules --disable-warning=ExperimentalWarning",
    });
    expect(result.output).toMatch(/Tests: +5 passed, 5 total/);
    expect(result.code).toBe(0);
  }, 60_000);

  it("refuses a taken name, a reserved or invalid name and a name without a proto, changing nothing", () => {
    const snapshot = () =>
      JSON.stringify([
        readdirSync(at("services")).sort(),
        ...registrationFiles.map((file) => readFileSync(at(file), "utf8")),
      ]);
    const unchanged = snapshot();
    const cases: Array<[string, RegExp]> = [
      ["parcel-locker", /refused: services\/parcel-locker exists already/],
      ["catalog", /refused: services\/catalog exists already/],
      ["gateway", /refused: .*"gateway" is reserved/],
      ["Parcel_Locker", /refused: "Parcel_Locker" is not a valid service name/],
      ["order-v2", /refused: "order-v2": versions belong in the proto package/],
      ["gift-card", /refused: no proto for "gift-card": proto\/agora\/giftcard\/v1\/ has no \.proto files/],
    ];
    for (const [name, message] of cases) {
      const result = newService(repo.root, name);
      expect({ name, code: result.code }).toEqual({ name, code: 1 });
      expect(result.stderr).toMatch(message);
    }
    expect(newService(repo.root).code).toBe(2);
    expect(snapshot()).toBe(unchanged);
  }, 60_000);
});
