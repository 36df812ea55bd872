import { setTimeout as sleep } from "node:timers/promises";
import { ProductCreatedEvent } from "@agora/contracts";
import { createTestDatabase, type TestDatabase, waitUntil } from "@agora/testing";
import pino from "pino";
import { type Database, eventTablesMigrations, Outbox, openDatabase, outboxChannel } from "../src";

const payload = {
  product: {
    productId: "p",
    sku: "S",
    name: "p",
    description: "",
    category: "test",
    price: { currencyCode: "EUR", units: 1, nanos: 0 },
    imageUrl: "",
    createTime: new Date(),
    updateTime: new Date(),
  },
};

describe("the outbox's wake-up NOTIFY (real Postgres)", () => {
  let testDb: TestDatabase;
  let database: Database<Record<string, never>>;
  let wakeUps: number[];
  let unlisten: () => Promise<void>;

  beforeAll(async () => {
    testDb = await createTestDatabase("outbox_notify");
    database = await openDatabase({
      url: testDb.url,
      schema: {},
      migrations: [eventTablesMigrations],
      logger: pino({ level: "silent" }),
    });
    unlisten = await database.listen(outboxChannel, () => wakeUps.push(Date.now()));
  });

  beforeEach(() => {
    wakeUps = [];
  });

  afterAll(async () => {
    await unlisten();
    await database.close();
    await testDb.drop();
  });

  const write = (outbox: Outbox, aggregateId: string) =>
    database.db.transaction((tx) => outbox.add(tx, ProductCreatedEvent, payload, { aggregateId }));

  it("lets no rolled-back transaction suppress the wake-up of one that commits", async () => {
    const outbox = new Outbox("producer", [ProductCreatedEvent], 5000);
    await expect(
      database.db.transaction(async (tx) => {
        await outbox.add(tx, ProductCreatedEvent, payload, { aggregateId: "rolled-back" });
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    const committedAt = Date.now();
    await write(outbox, "committed");
    // Well within the 5 s interval: the rolled-back transaction did not count.
    await waitUntil(() => wakeUps.length > 0, 1000, "wake-up after the commit");
    expect(wakeUps[0]).toBeGreaterThanOrEqual(committedAt);
  });

  it("follows every commit with a wake-up, those inside the interval at its end", async () => {
    const outbox = new Outbox("producer", [ProductCreatedEvent], 300);
    await write(outbox, "first");
    await waitUntil(() => wakeUps.length === 1, 1000, "first wake-up");
    const secondCommittedAt = Date.now();
    await write(outbox, "second");
    await write(outbox, "third");
    await waitUntil(() => wakeUps.length === 2, 1000, "a wake-up after the later commits");
    expect(wakeUps[1]).toBeGreaterThanOrEqual(secondCommittedAt);
    // The two later commits share one wake-up.
    await sleep(400);
    expect(wakeUps).toHaveLength(2);
  });

  it("still wakes the relay for events written in a savepoint", async () => {
    const outbox = new Outbox("producer", [ProductCreatedEvent], 25);
    await database.db.transaction((tx) =>
      tx.transaction((savepoint) => outbox.add(savepoint, ProductCreatedEvent, payload, { aggregateId: "nested" })),
    );
    await waitUntil(() => wakeUps.length > 0, 1000, "wake-up");
  });
});
