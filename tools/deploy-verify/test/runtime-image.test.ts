import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { serviceNodeFlags } from "@agora/local-run";
import { checkHealth, type ServiceProcess, spawnServiceProcess, startTestNats, type TestNats } from "@agora/testing";
import { collectScript, dockerStage, readDockerfile } from "../src/dockerfile";
import { repoRoot } from "../src/paths";

// The runtime image without Docker: the file tree its stages describe, assembled from the built
// repository, and a real service started from it. The collect step is the Dockerfile's own script
// (run here with a temporary folder instead of /collect), so a file the service reads at run time but
// the image leaves out (a descriptor set, a migrations folder) makes the service fail to start here.

const dockerfile = readDockerfile();
const runtime = dockerStage(dockerfile, "runtime");

/** Every file below `dir`, relative to it, not following links and leaving out node_modules. */
function filesUnder(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) return entry.name === "node_modules" ? [] : filesUnder(dir, path);
    return [path];
  });
}

/**
 * The runtime tree of one workspace: the collect step's output over the deps stage's node_modules.
 * `npm ci --omit=dev` is stood in for by links to the repository's installed packages, with
 * node_modules/@agora/* pointing into the tree itself, as npm links workspaces.
 */
function assembleRuntimeTree(workspace: string): string {
  const root = mkdtempSync(join(tmpdir(), "agora-runtime-"));
  try {
    linkRuntimeTree(root, workspace);
  } catch (error) {
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
  return root;
}

function linkRuntimeTree(root: string, workspace: string): void {
  execFileSync(process.execPath, ["-e", collectScript(dockerfile), workspace, root], {
    cwd: repoRoot,
    stdio: ["ignore", "inherit", "inherit"],
  });
  const manifests = filesUnder(root).filter((f) => /^[^/]+\/[^/]+\/package\.json$/.test(f));
  const modules = join(root, "node_modules");
  mkdirSync(join(modules, "@agora"), { recursive: true });
  for (const entry of readdirSync(join(repoRoot, "node_modules"))) {
    if (entry === "@agora" || entry.startsWith(".")) continue;
    symlinkSync(join(repoRoot, "node_modules", entry), join(modules, entry));
  }
  for (const manifest of manifests) {
    const dir = dirname(manifest);
    const { name } = JSON.parse(readFileSync(join(root, manifest), "utf8")) as { name: string };
    symlinkSync(join("..", "..", dir), join(modules, name));
    const nested = join(repoRoot, dir, "node_modules");
    if (existsSync(nested)) symlinkSync(nested, join(root, dir, "node_modules"));
  }
}

test("the runtime stage is the deps stage's node_modules plus the collect step's output, started through main.js", () => {
  expect(runtime.instructions).toEqual(
    expect.arrayContaining(["COPY --from=deps /app/ ./", "COPY --from=build /collect/ ./"]),
  );
  expect(runtime.instructions.filter((line) => line.startsWith("COPY"))).toHaveLength(2);
  expect(runtime.instructions).toContainEqual(
    expect.stringMatching(/^RUN ln -s "\$\{WORKSPACE_DIR\}\/\$\{SERVICE\}\/dist\/main\.js" main\.js /),
  );
  // The same Node flags as the local run, so what is measured locally is what runs in the cluster.
  expect(JSON.parse((runtime.instructions.at(-1) as string).replace(/^CMD /, ""))).toEqual([
    "node",
    ...serviceNodeFlags,
    "main.js",
  ]);
});

describe("catalog started from the assembled runtime tree", () => {
  let tree: string;
  let nats: TestNats;
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    tree = assembleRuntimeTree("services/catalog");
    symlinkSync("services/catalog/dist/main.js", join(tree, "main.js"));
    nats = await startTestNats();
  }, 60_000);

  afterAll(async () => {
    await service?.stop();
    await nats?.close();
    if (tree) rmSync(tree, { recursive: true, force: true });
  });

  test("ships the service and its production workspaces only: compiled code, migrations, descriptor sets", () => {
    const files = filesUnder(tree);
    const workspaces = [
      ...new Set(files.filter((f) => f.includes("/")).map((f) => f.split("/").slice(0, 2).join("/"))),
    ];
    expect(workspaces.sort()).toEqual(["packages/contracts", "packages/service-kit", "services/catalog"]);
    expect(files).toEqual(
      expect.arrayContaining([
        "services/catalog/dist/main.js",
        "packages/contracts/descriptors.binpb",
        "packages/contracts/grpc-protocols.binpb",
      ]),
    );
    expect(files.some((f) => f.startsWith("services/catalog/drizzle/") && f.endsWith(".sql"))).toBe(true);
    expect(files.some((f) => f.startsWith("packages/service-kit/drizzle-events/") && f.endsWith(".sql"))).toBe(true);
    expect(files.filter((f) => /\.(map|tsbuildinfo)$|\.d\.ts$|\/(src|test)\//.test(f))).toEqual([]);
  });

  test("answers gRPC health SERVING (embedded Postgres, the test's NATS, NODE_ENV=production)", async () => {
    service = await spawnServiceProcess(
      join(tree, "main.js"),
      { NODE_ENV: "production", NATS_URL: nats.url, NATS_SUBJECT_PREFIX: nats.subjectPrefix, SEED_DEMO_DATA: "true" },
      { readyTimeoutMs: 60_000 },
    );
    expect(await checkHealth(service.address, "", 2_000)).toBe("SERVING");
  }, 90_000);
});
