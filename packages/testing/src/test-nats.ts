import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { isDockerAvailable } from "./docker";
import { freePort, waitForPort } from "./free-port";

/** A NATS JetStream server for one test file. */
export interface TestNats {
  /** nats:// URL to connect to. */
  readonly url: string;
  /**
   * Subject and stream prefix for this test file (pass it as NATS_SUBJECT_PREFIX): empty on a private
   * server, unique when the server is shared (NATS_URL).
   */
  readonly subjectPrefix: string;
  /** True when the test owns the server process and can stop and start it. */
  readonly controllable: boolean;
  /** Stops the server process (keeping its JetStream data) — only when controllable. */
  stopServer(): Promise<void>;
  /** Starts it again on the same port and data folder — only when controllable. */
  startServer(): Promise<void>;
  /** Stops the server and deletes its data. */
  close(): Promise<void>;
}

function natsServerBinary(): string | undefined {
  for (const candidate of [
    process.env.NATS_SERVER_BIN,
    "nats-server",
    "/usr/sbin/nats-server",
    "/usr/local/bin/nats-server",
  ]) {
    if (!candidate) continue;
    try {
      execFileSync(candidate, ["--version"], { stdio: "ignore" });
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

/**
 * A JetStream server for this test file: its own nats-server process on a free port when the binary
 * is installed; otherwise the shared server at NATS_URL with a unique subject prefix; otherwise a
 * testcontainers NATS when a Docker engine is reachable; otherwise a clear error.
 */
export async function startTestNats(): Promise<TestNats> {
  const binary = natsServerBinary();
  if (binary && process.env.TEST_NATS_SHARED !== "true") return startOwnServer(binary);
  const shared = process.env.NATS_URL;
  if (shared) {
    const prefix = `t${randomBytes(4).toString("hex")}.`;
    return {
      url: shared,
      subjectPrefix: prefix,
      controllable: false,
      stopServer: async () => {
        throw new Error("the shared NATS_URL server cannot be stopped by a test");
      },
      startServer: async () => {},
      close: async () => {},
    };
  }
  if (await isDockerAvailable()) {
    const { GenericContainer } = await import("testcontainers");
    const container = await new GenericContainer("nats:2.11-alpine")
      .withCommand(["-js"])
      .withExposedPorts(4222)
      .start();
    return {
      url: `nats://${container.getHost()}:${container.getMappedPort(4222)}`,
      subjectPrefix: "",
      controllable: false,
      stopServer: async () => {
        throw new Error("a testcontainers NATS cannot be stopped by a test");
      },
      startServer: async () => {},
      close: async () => {
        await container.stop();
      },
    };
  }
  throw new Error(
    "No NATS for the tests: install nats-server (Debian: apt-get install nats-server), or set NATS_URL to a " +
      "JetStream-enabled server, or make a Docker engine reachable.",
  );
}

/** After a (re)start JetStream recovers its streams before it answers API requests: wait for that. */
async function waitForJetStream(url: string, timeoutMs = 15_000): Promise<void> {
  const connection = await connect({ servers: url });
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await connection.request("$JS.API.INFO", undefined, { timeout: 1000 });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`JetStream at ${url} not ready: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    await connection.close();
  }
}

async function startOwnServer(binary: string): Promise<TestNats> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), "agora-nats-"));
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(binary, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir], { stdio: "ignore" });
    await waitForPort(port);
    await waitForJetStream(`nats://127.0.0.1:${port}`);
  };

  const stop = async () => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once("exit", () => resolve());
      running.kill("SIGTERM");
    });
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    subjectPrefix: "",
    controllable: true,
    stopServer: stop,
    startServer: start,
    close: async () => {
      await stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
