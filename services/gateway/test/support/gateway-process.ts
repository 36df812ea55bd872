import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { freePort, waitUntil } from "@agora/testing";

/** The gateway running as its own OS process (dist/main.js), as Kubernetes runs it. */
export interface GatewayProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
}

/**
 * Starts dist/main.js in front of the given downstreams on free ports and resolves once /readyz
 * answers 200. `env` comes last, so a test can add or override anything (FAULT_*, SHUTDOWN_DELAY_MS…).
 */
export async function spawnGatewayProcess(env: {
  DESCRIPTOR_SET_PATH: string;
  DOWNSTREAM_ADDRS: string;
  IDENTITY_ADDR: string;
  [name: string]: string;
}): Promise<GatewayProcess> {
  const httpPort = await freePort();
  const url = `http://127.0.0.1:${httpPort}`;
  const child = spawn(process.execPath, [join(__dirname, "../../dist/main.js")], {
    env: {
      ...process.env,
      NODE_OPTIONS: "",
      HTTP_HOST: "127.0.0.1",
      HTTP_PORT: String(httpPort),
      GRPC_HOST: "127.0.0.1",
      METRICS_PORT: String(await freePort()),
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
      LOG_FORMAT: "json",
      ...env,
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await waitUntil(
    () =>
      fetch(`${url}/readyz`).then(
        (response) => response.status === 200,
        () => false,
      ),
    20_000,
    "gateway ready",
  );
  return { url, child, exited };
}
