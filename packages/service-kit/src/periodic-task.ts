import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";

/** Settings of a {@link PeriodicTask}. */
export interface PeriodicTaskOptions {
  /** Name in logs and in the service's list of background work, e.g. "reservation-expiry". */
  name: string;
  /** Pause between rounds when the last round found nothing more to do. */
  intervalMs: number;
  /**
   * One round of work, for example "claim a batch of due rows and handle them". Return true when more
   * work may be waiting (a full batch), and the next round starts at once instead of after the pause.
   */
  run(): Promise<boolean | undefined>;
  logger: Logger;
  /** Longest pause after consecutive failing rounds (the pause doubles from intervalMs). Default 30 s. */
  maxBackoffMs?: number;
}

/**
 * A background loop for sweepers: runs `run` every `intervalMs`, at once again after a full batch,
 * with a doubling pause after failures (logged, never fatal). Keeps no state of its own, so work that
 * must survive a crash lives in the database and each round picks it up from there. Implements the
 * kit's BackgroundTask: return it from `setup` in `background` and the service starts and stops it.
 */
export class PeriodicTask {
  readonly name: string;
  private running = false;
  private loop?: Promise<void>;
  private interrupt?: AbortController;
  private wakeRequested = false;

  constructor(private readonly options: PeriodicTaskOptions) {
    if (!(options.intervalMs > 0)) throw new Error(`${options.name}: intervalMs must be positive`);
    this.name = options.name;
  }

  /** Starts the loop; the first round runs at once. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.runLoop();
  }

  /** Lets the round in progress finish, starts no other, and resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.running = false;
    this.interrupt?.abort();
    await this.loop;
    this.loop = undefined;
  }

  /** Runs the next round now instead of after the pause (for example right after new work was stored). */
  wake(): void {
    this.wakeRequested = true;
    this.interrupt?.abort();
  }

  private async pause(ms: number): Promise<void> {
    if (this.wakeRequested || !this.running) return;
    const interrupt = new AbortController();
    this.interrupt = interrupt;
    await sleep(ms, undefined, { signal: interrupt.signal }).catch(() => undefined);
    this.interrupt = undefined;
  }

  private async runLoop(): Promise<void> {
    const maxBackoffMs = this.options.maxBackoffMs ?? 30_000;
    let failures = 0;
    while (this.running) {
      this.wakeRequested = false;
      let more = false;
      try {
        more = (await this.options.run()) === true;
        failures = 0;
      } catch (error) {
        failures++;
        const retryMs = Math.min(maxBackoffMs, this.options.intervalMs * 2 ** (failures - 1));
        this.options.logger.warn({ err: error, task: this.name, failures, retry_ms: retryMs }, "round failed");
        await this.pause(retryMs);
        continue;
      }
      if (!more) await this.pause(this.options.intervalMs);
    }
  }
}
