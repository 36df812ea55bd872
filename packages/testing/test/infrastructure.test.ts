import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { join } from "node:path";
import postgres from "postgres";
import {
  createTestDatabase,
  defaultTestServerUrl,
  freePort,
  parseTestDatabaseName,
  startTestNats,
  sweepLeakedTestDatabases,
  testDatabaseName,
} from "../src";

/** The INFO line a NATS server greets every client with. */
function natsInfo(url: string): Promise<Record<string, unknown>> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once("error", reject);
    socket.once("data", (chunk) => {
      socket.destroy();
      const line = chunk.toString().split("\r\n")[0] ?? "";
      resolve(JSON.parse(line.replace(/^INFO /, "")));
    });
  });
}

describe("createTestDatabase", () => {
  it("creates an empty database of its own and drops it afterwards", async () => {
    const database = await createTestDatabase("infra");
    expect(database.name).toMatch(/^agora_infra_[0-9a-f]{6}_[0-9a-z]+_[0-9a-z]+_[0-9a-f]{6}$/);
    expect(parseTestDatabaseName(database.name)).toMatchObject({ label: "infra", pid: process.pid });
    const sql = postgres(database.url, { max: 1, onnotice: () => {} });
    const [row] = await sql<{ name: string }[]>`select current_database() as name`;
    expect(row?.name).toBe(database.name);
    await sql.end();
    await database.drop();
    const check = postgres(database.url, { max: 1, onnotice: () => {}, connect_timeout: 3 });
    await expect(check`select 1`).rejects.toThrow(/does not exist/);
    await check.end();
  });
});

describe("sweepLeakedTestDatabases", () => {
  it("drops databases whose creating process is gone or that are over a day old, and nothing else", async () => {
    const server = process.env.TEST_DATABASE_URL ?? defaultTestServerUrl;
    const admin = postgres(server, { max: 1, onnotice: () => {} });
    // A pid that certainly belonged to a process that has ended.
    const gonePid = spawnSync(process.execPath, ["-e", ""]).pid as number;
    const ours = parseTestDatabaseName(testDatabaseName("x"))?.host as string;
    const otherHost = ours === "abcdef" ? "fedcba" : "abcdef";
    const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000);
    const names = {
      goneProcess: testDatabaseName("sweep_gone", { host: ours, pid: gonePid, createdAt: new Date() }),
      liveProcess: testDatabaseName("sweep_live", { host: ours, pid: process.pid, createdAt: new Date() }),
      oldElsewhere: testDatabaseName("sweep_old", { host: otherHost, pid: 1, createdAt: hoursAgo(25) }),
      recentElsewhere: testDatabaseName("sweep_recent", { host: otherHost, pid: gonePid, createdAt: hoursAgo(1) }),
      // The naming of earlier harness versions (and anything else): never touched.
      notHarness: `agora_sweep_legacy_${randomBytes(4).toString("hex")}`,
    };
    try {
      for (const name of Object.values(names)) await admin.unsafe(`create database "${name}"`);
      const dropped = await sweepLeakedTestDatabases({ serverUrl: server });
      expect(dropped).toEqual(expect.arrayContaining([names.goneProcess, names.oldElsewhere]));
      const left = (
        await admin<
          { name: string }[]
        >`select datname as name from pg_database where datname = any(${Object.values(names)})`
      ).map((row) => row.name);
      expect(left.sort()).toEqual([names.liveProcess, names.recentElsewhere, names.notHarness].sort());
    } finally {
      for (const name of Object.values(names)) await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    }
  });
});

describe("createTestDatabase in a new test process", () => {
  it("first sweeps what earlier runs leaked", async () => {
    const server = process.env.TEST_DATABASE_URL ?? defaultTestServerUrl;
    const admin = postgres(server, { max: 1, onnotice: () => {} });
    const gonePid = spawnSync(process.execPath, ["-e", ""]).pid as number;
    const ours = parseTestDatabaseName(testDatabaseName("x"))?.host as string;
    const leaked = testDatabaseName("crashed_file", { host: ours, pid: gonePid, createdAt: new Date() });
    try {
      await admin.unsafe(`create database "${leaked}"`);
      // A test file's process: creates its database (which sweeps first) and drops it.
      const child = spawnSync(
        process.execPath,
        [
          "-e",
          `require(${JSON.stringify(join(__dirname, "../dist/test-database"))}).createTestDatabase("child").then((d) => d.drop())`,
        ],
        { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: "" } },
      );
      expect(child.stderr).toBe("");
      expect(child.status).toBe(0);
      const [row] = await admin<
        { count: number }[]
      >`select count(*)::int as count from pg_database where datname = ${leaked}`;
      expect(row?.count).toBe(0);
    } finally {
      await admin.unsafe(`drop database if exists "${leaked}" with (force)`);
      await admin.end();
    }
  });
});

describe("startTestNats", () => {
  it("runs a JetStream server of its own that a test can stop and start again", async () => {
    const nats = await startTestNats();
    try {
      expect(nats.controllable).toBe(true);
      expect(await natsInfo(nats.url)).toMatchObject({ jetstream: true });
      await nats.stopServer();
      await expect(natsInfo(nats.url)).rejects.toThrow(/ECONNREFUSED/);
      await nats.startServer();
      expect(await natsInfo(nats.url)).toMatchObject({ jetstream: true });
    } finally {
      await nats.close();
    }
  });

  it("uses the shared NATS_URL server with a unique subject prefix when told to share", async () => {
    const previous = { shared: process.env.TEST_NATS_SHARED, url: process.env.NATS_URL };
    process.env.TEST_NATS_SHARED = "true";
    process.env.NATS_URL = "nats://127.0.0.1:4222";
    try {
      const [a, b] = [await startTestNats(), await startTestNats()];
      expect(a.url).toBe("nats://127.0.0.1:4222");
      expect(a.subjectPrefix).toMatch(/^t[0-9a-f]{8}\.$/);
      expect(a.subjectPrefix).not.toBe(b.subjectPrefix);
      expect(a.controllable).toBe(false);
    } finally {
      process.env.TEST_NATS_SHARED = previous.shared;
      process.env.NATS_URL = previous.url;
      if (previous.shared === undefined) delete process.env.TEST_NATS_SHARED;
      if (previous.url === undefined) delete process.env.NATS_URL;
    }
  });
});

describe("freePort", () => {
  it("returns distinct usable ports", async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    for (const port of ports) expect(port).toBeGreaterThan(1024);
  });
});
