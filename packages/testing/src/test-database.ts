import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { isDockerAvailable } from "./docker";

/** A database of its own for one test file, dropped by {@link TestDatabase.drop}. */
export interface TestDatabase {
  /** postgres:// URL of the new, empty database. */
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/** Where the test Postgres server is: TEST_DATABASE_URL, else the local server Agora's machines run. */
export const defaultTestServerUrl = "postgres://postgres@127.0.0.1:5432/postgres";

async function reachable(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

let containerUrl: Promise<string> | undefined;

async function serverUrl(): Promise<string> {
  const configured = process.env.TEST_DATABASE_URL;
  if (configured) {
    if (!(await reachable(configured))) {
      throw new Error(`TEST_DATABASE_URL=${configured} does not answer; start that Postgres or unset the variable`);
    }
    return configured;
  }
  if (await reachable(defaultTestServerUrl)) return defaultTestServerUrl;
  if (await isDockerAvailable()) {
    containerUrl ??= (async () => {
      const { GenericContainer, Wait } = await import("testcontainers");
      const container = await new GenericContainer("postgres:17-alpine")
        .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: "trust" })
        .withExposedPorts(5432)
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
        .start();
      return `postgres://postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
    })();
    return containerUrl;
  }
  throw new Error(
    "No Postgres for the tests: set TEST_DATABASE_URL to a server where the user may CREATE DATABASE, " +
      `or run one at ${defaultTestServerUrl} (Debian: apt-get install postgresql), or make a Docker engine reachable.`,
  );
}

/**
 * Creates an empty database on the test server (TEST_DATABASE_URL, the local server, or a
 * testcontainers Postgres when a Docker engine is reachable), named after the test file.
 */
export async function createTestDatabase(label = "test"): Promise<TestDatabase> {
  const server = await serverUrl();
  const name = `agora_${label
    .replace(/[^a-z0-9]/gi, "_")
    .toLowerCase()
    .slice(0, 30)}_${randomBytes(4).toString("hex")}`;
  const admin = postgres(server, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end({ timeout: 2 });
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const cleanup = postgres(server, { max: 1, onnotice: () => {} });
      try {
        await cleanup.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await cleanup.end({ timeout: 2 });
      }
    },
  };
}
