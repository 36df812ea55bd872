import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "./free-port";
import { checkHealth } from "./reflection-client";

/** A service running as its own OS process, as in production (for crash and signal tests). */
export interface ServiceProcess {
  /** "127.0.0.1:<grpc port>". */
  readonly address: string;
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or null when killed by a signal) once the process ends. */
  readonly exited: Promise<number | null>;
  /** Sends a signal (SIGTERM for a graceful stop, SIGKILL for a crash). */
  kill(signal: NodeJS.Signals): void;
  /** Kills the process if it still runs and waits for it to end. */
  stop(): Promise<void>;
  /**
   * What the process wrote to stdout and stderr so far (only with `captureOutput`; otherwise its
   * output goes to this process's and this returns "").
   */
  output(): string;
}

/** Polls until `predicate` holds, or throws after `timeoutMs`. */
export async function waitUntil(
  predicate: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await sleep(25);
  }
}

/**
 * Starts `node <entry>` (a service's dist/main.js) on free ports with `env` and waits until its
 * health check answers SERVING. Output goes to this process's stdout/stderr when TEST_LOG_LEVEL is set.
 */
export async function spawnServiceProcess(
  entry: string,
  env: Record<string, string | undefined> = {},
  options: {
    ports?: { grpc: number; metrics: number };
    readyTimeoutMs?: number;
    /** Extra command-line arguments after the entry script. */
    args?: string[];
    /** Wait until health says SERVING (default); false returns at once (for processes expected to crash). */
    waitUntilServing?: boolean;
    /** Keep stdout and stderr for {@link ServiceProcess.output} instead of passing them through. */
    captureOutput?: boolean;
  } = {},
): Promise<ServiceProcess> {
  const grpcPort = options.ports?.grpc ?? (await freePort());
  const metricsPort = options.ports?.metrics ?? (await freePort());
  const child = spawn(process.execPath, [entry, ...(options.args ?? [])], {
    env: {
      ...process.env,
      NODE_OPTIONS: "",
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: String(grpcPort),
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
      LOG_FORMAT: "json",
      ...env,
    },
    stdio: ["ignore", options.captureOutput ? "pipe" : "inherit", options.captureOutput ? "pipe" : "inherit"],
  });
  const captured: string[] = [];
  child.stdout?.on("data", (chunk: Buffer) => captured.push(chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => captured.push(chunk.toString()));
  // "close", not "exit": by then the captured output is complete.
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  const address = `127.0.0.1:${grpcPort}`;
  let exitedEarly = false;
  void exited.then(() => {
    exitedEarly = true;
  });
  if (options.waitUntilServing !== false)
    await waitUntil(
      async () => {
        if (exitedEarly) throw new Error(`${entry} exited before it was healthy (exit code ${child.exitCode})`);
        return checkHealth(address, "", 500).then(
          (status) => status === "SERVING",
          () => false,
        );
      },
      options.readyTimeoutMs ?? 30_000,
      `${entry} SERVING`,
    );
  return {
    address,
    grpcPort,
    metricsPort,
    child,
    exited,
    kill: (signal) => {
      child.kill(signal);
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    output: () => captured.join(""),
  };
}
