import { connect } from "node:net";
import postgres from "postgres";
import { createTestDatabase, freePort, startTestNats } from "../src";

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
    expect(database.name).toMatch(/^agora_infra_[0-9a-f]{8}$/);
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
