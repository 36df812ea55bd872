import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { ProductCreatedEvent } from "@agora/contracts";
import {
  type DeadLetter,
  defineService,
  EventNaming,
  encodeEnvelope,
  ensureStream,
  on,
  PermanentEventError,
  streamSettings,
} from "@agora/service-kit";
import {
  createTestDatabase,
  startService,
  startTestNats,
  type TestDatabase,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, headers as natsHeaders } from "@nats-io/transport-node";
import pino from "pino";
import { formatDeadLetters, parseArguments } from "../src/cli";

const run = promisify(execFile);
const cli = join(__dirname, "../dist/main.js");

describe("parseArguments", () => {
  it("reads list and redrive commands", () => {
    expect(parseArguments(["list", "--service", "inventory", "--json"])).toEqual({
      kind: "list",
      service: "inventory",
      json: true,
    });
    expect(parseArguments(["redrive", "3", "7"])).toEqual({
      kind: "redrive",
      sequences: [3, 7],
      all: false,
      service: undefined,
    });
    expect(parseArguments(["redrive", "--all"])).toMatchObject({ kind: "redrive", all: true });
  });

  it.each([
    [["redrive"], /either sequences or --all/],
    [["redrive", "x"], /not a dead-letter sequence: x/],
    [["list", "--service"], /--service needs/],
    [["purge"], /unknown command purge/],
  ])("rejects %j", (argv, message) => {
    expect(() => parseArguments(argv)).toThrow(message);
  });

  it("formats an empty list", () => {
    expect(formatDeadLetters([])).toBe("no dead letters");
  });
});

describe("agora-dead-letters against a real JetStream", () => {
  let nats: TestNats;
  let database: TestDatabase;
  const refused = new Set<string>(["broken-kettle"]);
  const applied: string[] = [];

  beforeAll(async () => {
    nats = await startTestNats();
    database = await createTestDatabase("dead_letters");
  });

  afterAll(async () => {
    await database.drop();
    await nats.close();
  });

  it("lists a dead letter with its reason, re-drives it, and it is applied", async () => {
    const consumer = defineService({
      name: "stock",
      ports: { grpc: 0, metrics: 0 },
      database: { schema: {}, migrationsFolder: join(__dirname, "fixtures/empty-migrations") },
      setup: ({ subscribe }) => {
        subscribe({
          name: "products",
          handlers: [
            on(ProductCreatedEvent, async (payload) => {
              const id = payload.product?.productId ?? "";
              if (refused.has(id)) throw new PermanentEventError(`no shelf for ${id}`);
              applied.push(id);
            }),
          ],
        });
        return { grpc: [] };
      },
    });
    const env = { NATS_URL: nats.url, NATS_SUBJECT_PREFIX: nats.subjectPrefix };
    const service = await startService(consumer, { ...env, DATABASE_URL: database.url });
    try {
      // Publish one event the way a relay does.
      const connection = await connect({ servers: nats.url });
      const naming = new EventNaming(nats.subjectPrefix);
      const jsm = await jetstreamManager(connection);
      await ensureStream(
        jsm,
        streamSettings(naming.streamOf("catalog"), naming.subjectsOf("catalog"), { maxAgeMs: 3_600_000 }),
        pino({ level: "silent" }),
      );
      const envelope = encodeEnvelope(
        ProductCreatedEvent,
        {
          product: {
            productId: "broken-kettle",
            sku: "K",
            name: "Kettle",
            description: "",
            category: "kitchen",
            price: undefined,
            imageUrl: "",
            createTime: undefined,
            updateTime: undefined,
          },
        },
        {
          eventId: "7d9f1f7e-0000-4000-8000-000000000001",
          type: ProductCreatedEvent.type,
          occurredAt: new Date(),
          aggregateType: "product",
          aggregateId: "broken-kettle",
          aggregateVersion: 1,
          correlationId: "c",
          producer: "catalog",
        },
      );
      const headers = natsHeaders();
      headers.set("Agora-Aggregate-Id", "broken-kettle");
      headers.set("Agora-Event-Type", ProductCreatedEvent.type);
      await jetstream(connection).publish(naming.subjectOf(ProductCreatedEvent), envelope, { msgID: "e1", headers });
      await connection.close();

      const cliEnv = { ...process.env, ...env, NODE_OPTIONS: "" };
      let letters: DeadLetter[] = [];
      await waitUntil(
        async () => {
          letters = JSON.parse((await run(process.execPath, [cli, "list", "--json"], { env: cliEnv })).stdout);
          return letters.length === 1;
        },
        10_000,
        "one dead letter",
      );
      expect(letters[0]).toMatchObject({
        service: "stock",
        consumer: "products",
        eventType: "agora.catalog.product_created",
        aggregateId: "broken-kettle",
        error: "PermanentEventError: no shelf for broken-kettle",
        originalSubject: `${nats.subjectPrefix}agora.catalog.product_created`,
      });
      const table = (await run(process.execPath, [cli, "list", "--service", "stock"], { env: cliEnv })).stdout;
      expect(table).toMatch(/^SEQ\s+WHEN\s+CONSUMER/);
      expect(table).toContain("stock/products");

      refused.clear();
      const redriven = await run(process.execPath, [cli, "redrive", "--all", "--service", "stock"], { env: cliEnv });
      expect(redriven.stdout).toContain("re-drove");
      await waitUntil(() => applied.includes("broken-kettle"), 10_000, "re-driven event applied");
      expect(JSON.parse((await run(process.execPath, [cli, "list", "--json"], { env: cliEnv })).stdout)).toEqual([]);
    } finally {
      await service.stop();
    }
  }, 60_000);

  it("exits 2 with usage on bad arguments", async () => {
    await expect(
      run(process.execPath, [cli, "redrive"], { env: { ...process.env, NODE_OPTIONS: "" } }),
    ).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining("Usage: agora-dead-letters"),
    });
  });
});
