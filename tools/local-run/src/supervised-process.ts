import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";

/** Children still running; killed if the runner exits without stopping them (a crash of the runner). */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Settings of one supervised process. */
export interface SupervisedProcessOptions {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Receives every output line (stdout and stderr). */
  onLine(line: string): void;
  /** Told about crashes and restarts, for the runner to report. */
  onEvent(
    event: { kind: "crashed"; code: number | null; signal: string | null; restartInMs: number } | { kind: "restarted" },
  ): void;
  /** First restart delay, doubled per crash in a row up to maxRestartDelayMs. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
}

/**
 * A child process that is restarted with exponential backoff when it exits unexpectedly, and stopped
 * gracefully (SIGTERM, then SIGKILL after a timeout) on request.
 */
export class SupervisedProcess {
  private child?: ChildProcess;
  private stopping = false;
  private crashesInARow = 0;
  private restartTimer?: NodeJS.Timeout;
  private healthySince = 0;
  private exitWaiters: Array<() => void> = [];

  constructor(private readonly options: SupervisedProcessOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The pid of the most recent child, also after it exited (to find its files, e.g. CPU profiles). */
  get lastPid(): number | undefined {
    return this.lastChildPid;
  }
  private lastChildPid?: number;

  start(): void {
    this.stopping = false;
    this.healthySince = Date.now();
    // A process group of its own: a Ctrl-C in the terminal reaches only the runner, which then stops
    // the children in order (services first, nats-server last) instead of all at once.
    const child = spawn(this.options.command, this.options.args, {
      env: this.options.env,
      cwd: this.options.cwd,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    this.lastChildPid = child.pid;
    live.add(child);
    child.once("exit", () => live.delete(child));
    this.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      if (stream) createInterface({ input: stream }).on("line", (line) => this.options.onLine(line));
    }
    child.once("exit", (code, signal) => {
      this.child = undefined;
      for (const waiter of this.exitWaiters.splice(0)) waiter();
      if (this.stopping) return;
      // A process that ran a minute counts as recovered: the backoff starts over.
      if (Date.now() - this.healthySince > 60_000) this.crashesInARow = 0;
      const base = this.options.restartDelayMs ?? 1000;
      const delay = Math.min(base * 2 ** this.crashesInARow, this.options.maxRestartDelayMs ?? 30_000);
      this.crashesInARow++;
      this.options.onEvent({ kind: "crashed", code, signal, restartInMs: delay });
      this.restartTimer = setTimeout(() => {
        this.options.onEvent({ kind: "restarted" });
        this.start();
      }, delay);
    });
  }

  /** Stops it: SIGTERM (the services drain), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  /** Kills it at once (a second Ctrl-C). */
  kill(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.child?.kill("SIGKILL");
  }

  /** Sends a signal without stopping supervision (tests use SIGKILL to simulate a crash). */
  signal(signal: NodeJS.Signals): void {
    this.child?.kill(signal);
  }
}
