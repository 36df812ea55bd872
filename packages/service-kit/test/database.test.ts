import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase, waitUntil } from "@agora/testing";
import { sql } from "drizzle-orm";
import pino from "pino";
import { notifyAfterCommit, openDatabase, redact } from "../src";

const logger = pino({ level: "silent" });
const migrations = [{ folder: join(__dirname, "fixtures/migrations"), table: "__drizzle_migrations" }];

describe("database on a real Postgres server", () => {
  let testDb: TestDatabase;

  beforeAll(async () => {
    testDb = await createTestDatabase("kit_db");
  });

  afterAll(() => testDb.drop());

  it("migrates once when several replicas start together (advisory lock)", async () => {
    const replicas = await Promise.all(
      Array.from({ length: 4 }, () => openDatabase({ url: testDb.url, schema: {}, migrations, logger })),
    );
    try {
      const [first] = replicas;
      const widgets = await first?.rows<{ name: string }>(sql`select name from widgets`);
      expect(widgets).toEqual([{ name: "first widget" }]);
      const applied = await first?.rows<{ count: string }>(
        sql`select count(*)::text as count from drizzle.__drizzle_migrations`,
      );
      expect(applied).toEqual([{ count: "1" }]);
    } finally {
      await Promise.all(replicas.map((replica) => replica.close()));
    }
  });

  it("delivers NOTIFY payloads to listeners", async () => {
    const database = await openDatabase({ url: testDb.url, schema: {}, migrations, logger });
    try {
      const received: string[] = [];
      const unlisten = await database.listen("kit_test", (payload) => received.push(payload));
      await database.rows(sql`select pg_notify('kit_test', 'hello')`);
      for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(received).toEqual(["hello"]);
      await unlisten();
    } finally {
      await database.close();
    }
  });

  it("notifies after a transaction commits, and never for one that rolls back", async () => {
    const database = await openDatabase({ url: testDb.url, schema: {}, migrations, logger });
    const received: string[] = [];
    const unlisten = await database.listen("kit_after_commit", (payload) => received.push(payload));
    try {
      await database.db.transaction(async (tx) => {
        await notifyAfterCommit(tx, "kit_after_commit", "committed");
      });
      await expect(
        database.db.transaction(async (tx) => {
          await notifyAfterCommit(tx, "kit_after_commit", "rolled back");
          throw new Error("roll back");
        }),
      ).rejects.toThrow("roll back");
      await waitUntil(() => received.length > 0, 5000, "the notification");
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(received).toEqual(["committed"]);
    } finally {
      await unlisten();
      await database.close();
    }
  });

  it("runs queries with parameters as prepared statements, in and out of transactions, with custom plans", async () => {
    const database = await openDatabase({ url: testDb.url, schema: {}, migrations, logger, poolSize: 1 });
    try {
      const name = "first widget";
      await database.rows(sql`select name from widgets where name = ${name}`);
      await database.db.transaction(async (tx) => {
        await tx.execute(sql`select count(*) from widgets where name <> ${name}`);
      });
      expect(await database.rows(sql`select current_setting('plan_cache_mode') as mode`)).toEqual([
        { mode: "force_custom_plan" },
      ]);
      // One connection: the statements prepared above are in its session.
      const prepared = await database.rows<{ statement: string }>(
        sql`select statement from pg_prepared_statements where statement like ${"%from widgets where name%"} order by statement`,
      );
      expect(prepared.map((row) => row.statement)).toEqual([
        "select count(*) from widgets where name <> $1",
        "select name from widgets where name = $1",
      ]);
    } finally {
      await database.close();
    }
  });

  it("runs unnamed statements when prepared statements are turned off (a transaction-mode pooler)", async () => {
    const database = await openDatabase({
      url: testDb.url,
      schema: {},
      migrations,
      logger,
      poolSize: 1,
      preparedStatements: false,
    });
    try {
      const name = "first widget";
      expect(await database.rows(sql`select name from widgets where name = ${name}`)).toEqual([{ name }]);
      expect(
        await database.rows(
          sql`select statement from pg_prepared_statements where statement like ${"%from widgets where name%"}`,
        ),
      ).toEqual([]);
    } finally {
      await database.close();
    }
  });

  it("reports an unreachable server with the URL, password redacted", async () => {
    await expect(
      openDatabase({ url: "postgres://agora:secret@127.0.0.1:1/none", schema: {}, migrations, logger }),
    ).rejects.toThrow(/postgres:\/\/agora:\*\*\*@127\.0\.0\.1:1\/none/);
    expect(redact("postgres://u:pw@h/db")).toBe("postgres://u:***@h/db");
  });
});

describe("embedded database (PGlite)", () => {
  it("migrates in memory and answers queries like Postgres", async () => {
    const database = await openDatabase({ schema: {}, migrations, logger });
    try {
      expect(database.kind).toBe("pglite");
      expect(await database.rows(sql`select name from widgets`)).toEqual([{ name: "first widget" }]);
    } finally {
      await database.close();
    }
  });

  it("keeps data across restarts when given a folder", async () => {
    const dir = mkdtempSync(join(tmpdir(), "agora-pglite-"));
    try {
      const first = await openDatabase({ pgliteDir: dir, schema: {}, migrations, logger });
      await first.rows(sql`insert into widgets (widget_id, name) values ('w-2', 'second widget')`);
      await first.close();
      const second = await openDatabase({ pgliteDir: dir, schema: {}, migrations, logger });
      expect(await second.rows(sql`select widget_id from widgets order by widget_id`)).toEqual([
        { widget_id: "w-1" },
        { widget_id: "w-2" },
      ]);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
