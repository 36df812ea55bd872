import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createTestDatabase, startTestNats, type TestDatabase, type TestNats, waitUntil } from "@agora/testing";
import postgres from "postgres";
import {
  addressVariable,
  databaseUrlsFromEnv,
  discoverServices,
  formatLogLine,
  type LocalService,
  parseUpArguments,
  SupervisedProcess,
  startLocalSystem,
  startOrder,
} from "../src";

function fakeRepo(blocks: Record<string, unknown>): string {
  const root = mkdtempSync(join(tmpdir(), "agora-local-run-"));
  for (const [name, agora] of Object.entries(blocks)) {
    mkdirSync(join(root, "services", name), { recursive: true });
    writeFileSync(join(root, "services", name, "package.json"), JSON.stringify({ name: `@agora/${name}`, agora }));
  }
  return root;
}

describe("service discovery", () => {
  it("finds every service with an agora block and orders downstreams first", () => {
    const root = fakeRepo({
      gateway: { httpPort: 8080, metricsPort: 9450, downstreams: ["order", "catalog"] },
      order: { grpcPort: 50053, metricsPort: 9453, database: true, downstreams: ["catalog"] },
      catalog: { grpcPort: 50051, metricsPort: 9451, database: true, localEnv: { SEED_DEMO_DATA: "true" } },
    });
    mkdirSync(join(root, "services", "not-a-service"));
    try {
      const services = discoverServices(root);
      expect(services.map((service) => service.name)).toEqual(["catalog", "gateway", "order"]);
      expect(startOrder(services).map((service) => service.name)).toEqual(["catalog", "order", "gateway"]);
      expect(services[0]?.localEnv).toEqual({ SEED_DEMO_DATA: "true" });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("rejects an unknown downstream and a block without ports", () => {
    const unknown = fakeRepo({ order: { grpcPort: 1, metricsPort: 2, downstreams: ["ghost"] } });
    const portless = fakeRepo({ order: { metricsPort: 2 } });
    try {
      expect(() => discoverServices(unknown)).toThrow(/order calls ghost/);
      expect(() => discoverServices(portless)).toThrow(/needs metricsPort and grpcPort or httpPort/);
    } finally {
      rmSync(unknown, { recursive: true, force: true });
      rmSync(portless, { recursive: true, force: true });
    }
  });

  it("detects dependency cycles", () => {
    const services = [
      { name: "a", downstreams: ["b"] },
      { name: "b", downstreams: ["a"] },
    ] as LocalService[];
    expect(() => startOrder(services)).toThrow(/cycle/);
  });

  it("names address variables", () => {
    expect(addressVariable("order-history")).toBe("ORDER_HISTORY_ADDR");
  });
});

describe("formatLogLine", () => {
  it("renders pino JSON as one readable line and passes other lines through", () => {
    const line = JSON.stringify({
      level: "info",
      time: "2026-11-23T10:11:12.345Z",
      service: "catalog",
      version: "local",
      msg: "catalog is serving",
      grpc_port: 50051,
      database: "pglite (in memory)",
    });
    expect(formatLogLine(line, false)).toBe(
      '10:11:12 INFO  catalog is serving grpc_port=50051 database="pglite (in memory)"',
    );
    expect(formatLogLine("    at Object.<anonymous> (main.js:1:1)", false)).toBe(
      "    at Object.<anonymous> (main.js:1:1)",
    );
    expect(
      formatLogLine(JSON.stringify({ level: "error", msg: "x", err: { type: "Error", message: "boom" } }), false),
    ).toContain('err="Error: boom"');
  });
});

describe("parseUpArguments", () => {
  it("reads flags and environment", () => {
    const options = parseUpArguments(
      ["--reset", "--only", "catalog,order"],
      { AGORA_POSTGRES_URL: "postgres://x/y" },
      "/repo",
    );
    expect(options).toMatchObject({
      reset: true,
      only: ["catalog", "order"],
      postgresUrl: "postgres://x/y",
      dataDir: "/repo/.agora",
    });
  });

  it.each([
    [["--postgres", "mysql://x"], /postgres:\/\/ URL/],
    [["--nats"], /--nats needs a value/],
    [["--fast"], /unknown argument --fast/],
  ])("rejects %j", (argv, message) => {
    expect(() => parseUpArguments(argv, {}, "/repo")).toThrow(message);
  });
});

describe("SupervisedProcess", () => {
  it("restarts a crashing process with growing delays and stops it gracefully", async () => {
    const events: string[] = [];
    const lines: string[] = [];
    const supervised = new SupervisedProcess({
      name: "flaky",
      command: process.execPath,
      args: ["-e", "console.log('up'); setTimeout(() => process.exit(3), 50)"],
      env: { ...process.env, NODE_OPTIONS: "" },
      onLine: (line) => lines.push(line),
      onEvent: (event) =>
        events.push(event.kind === "crashed" ? `crashed ${event.code} ${event.restartInMs}` : "restarted"),
      restartDelayMs: 50,
      maxRestartDelayMs: 200,
    });
    supervised.start();
    await waitUntil(() => events.filter((event) => event.startsWith("crashed")).length >= 3, 5000, "three crashes");
    await supervised.stop();
    expect(events.filter((event) => event.startsWith("crashed")).slice(0, 3)).toEqual([
      "crashed 3 50",
      "crashed 3 100",
      "crashed 3 200",
    ]);
    expect(lines.filter((line) => line === "up").length).toBeGreaterThanOrEqual(3);
  });

  it("sends SIGTERM on stop and waits for the exit", async () => {
    const lines: string[] = [];
    const supervised = new SupervisedProcess({
      name: "graceful",
      command: process.execPath,
      args: [
        "-e",
        "process.on('SIGTERM', () => { console.log('draining'); setTimeout(() => process.exit(0), 100); }); console.log('ready'); setInterval(() => {}, 1000);",
      ],
      env: { ...process.env, NODE_OPTIONS: "" },
      onLine: (line) => lines.push(line),
      onEvent: () => lines.push("unexpected restart"),
    });
    supervised.start();
    await waitUntil(() => lines.includes("ready"), 5000, "ready");
    await supervised.stop();
    expect(lines).toEqual(["ready", "draining"]);
  });
});

describe("databases of the local run", () => {
  it("takes <SERVICE>_DATABASE_URL per service and refuses one DATABASE_URL for all", () => {
    expect(
      databaseUrlsFromEnv({ ORDER_HISTORY_DATABASE_URL: "postgres://h/history", CATALOG_DATABASE_URL: "" }, [
        "catalog",
        "order-history",
      ]),
    ).toEqual({ "order-history": "postgres://h/history" });
    expect(() => databaseUrlsFromEnv({ DATABASE_URL: "postgres://h/one" }, ["catalog", "order"])).toThrow(
      /DATABASE_URL is set.*CATALOG_DATABASE_URL, ORDER_DATABASE_URL.*--postgres/,
    );
  });
});

describe("startLocalSystem with a real service", () => {
  const repoRoot = resolve(__dirname, "../../..");
  // Clear of the default ports (a developer's ./agora up) and of the benchmark's (+1000).
  const portOffset = 3000 + (process.pid % 500) * 10;
  let nats: TestNats;
  let database: TestDatabase;
  const inheritedDatabaseUrl = process.env.DATABASE_URL;

  beforeAll(async () => {
    [nats, database] = await Promise.all([startTestNats(), createTestDatabase("local_run")]);
  });
  afterAll(async () => {
    process.env.DATABASE_URL = inheritedDatabaseUrl;
    await Promise.all([nats?.close(), database?.drop()]);
  });

  it("gives a service the database named for it, and never the runner's own DATABASE_URL", async () => {
    const lines: string[] = [];
    const dataDir = mkdtempSync(join(tmpdir(), "agora-local-run-data-"));
    const start = (databaseUrls?: Record<string, string>) =>
      startLocalSystem({
        repoRoot,
        dataDir,
        natsUrl: nats.url,
        env: { NATS_SUBJECT_PREFIX: nats.subjectPrefix },
        databaseUrls,
        only: ["catalog"],
        portOffset,
        writeLine: (line) => lines.push(line),
      });
    try {
      const own = await start({ catalog: database.url });
      await own.stop();
      const sql = postgres(database.url, { max: 1, onnotice: () => {} });
      const [row] = await sql<{ count: number }[]>`select count(*)::int as count from products`;
      await sql.end();
      expect(row?.count).toBeGreaterThanOrEqual(20);

      // A DATABASE_URL exported in the runner's shell (for ./agora run) must not reach the children.
      process.env.DATABASE_URL = "postgres://postgres@127.0.0.1:1/nowhere";
      lines.length = 0;
      const embedded = await start();
      await embedded.stop();
      expect(lines.join("\n")).toMatch(/embedded database ready/);
      expect(lines.join("\n")).not.toMatch(/nowhere/);
    } finally {
      process.env.DATABASE_URL = inheritedDatabaseUrl;
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  it("stops what it started, gracefully, when aborted while starting", async () => {
    const lines: string[] = [];
    const dataDir = mkdtempSync(join(tmpdir(), "agora-local-run-data-"));
    const aborting = new AbortController();
    try {
      const started = startLocalSystem({
        repoRoot,
        dataDir,
        natsUrl: nats.url,
        env: { NATS_SUBJECT_PREFIX: nats.subjectPrefix },
        only: ["catalog"],
        portOffset,
        signal: aborting.signal,
        writeLine: (line) => {
          lines.push(line);
          // The service process is up and opening its database: interrupt now, before it serves.
          if (/embedded database|migrat/i.test(line)) aborting.abort();
        },
      });
      await expect(started).rejects.toMatchObject({ name: "AbortError" });
      // Stopped with SIGTERM and allowed to drain (the kit logs "stopped"), not killed.
      expect(lines.join("\n")).toMatch(/stopped/);
      expect(lines.join("\n")).not.toMatch(/exited unexpectedly/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
