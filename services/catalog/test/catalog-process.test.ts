import { join } from "node:path";
import { CatalogServiceService } from "@agora/contracts/agora/catalog/v1/catalog_service";
import { createClient } from "@agora/service-kit";
import {
  checkHealth,
  createTestDatabase,
  type ServiceProcess,
  spawnServiceProcess,
  startTestNats,
  type TestDatabase,
  type TestNats,
  waitUntil,
} from "@agora/testing";
import pino from "pino";

describe("catalog as a process on a real Postgres database", () => {
  let database: TestDatabase;
  let nats: TestNats;
  let catalog: ServiceProcess;

  beforeAll(async () => {
    database = await createTestDatabase("catalog_process");
    nats = await startTestNats();
    catalog = await spawnServiceProcess(join(__dirname, "../dist/main.js"), {
      DATABASE_URL: database.url,
      NATS_URL: nats.url,
      NATS_SUBJECT_PREFIX: nats.subjectPrefix,
      SEED_DEMO_DATA: "true",
      SHUTDOWN_DELAY_MS: "500",
    });
  });

  afterAll(async () => {
    await catalog.stop();
    await database.drop();
    await nats.close();
  });

  it("serves the seeded catalog, then on SIGTERM reports NOT_SERVING before its port closes and exits 0", async () => {
    const client = createClient(CatalogServiceService, catalog.address, {
      downstream: "catalog",
      logger: pino({ level: "silent" }),
    });
    const listed = await client.listProducts({ page: { pageSize: 100, pageToken: "" }, category: "" });
    expect(listed.products).toHaveLength(20);
    client.close();

    catalog.kill("SIGTERM");
    await waitUntil(
      () =>
        checkHealth(catalog.address).then(
          (status) => status === "NOT_SERVING",
          () => false,
        ),
      450,
      "NOT_SERVING during the shutdown delay",
    );
    expect(await catalog.exited).toBe(0);
    await expect(checkHealth(catalog.address, "", 500)).rejects.toBeDefined();
  }, 30_000);
});
