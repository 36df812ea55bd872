import type { BackgroundTask, Database } from "@agora/service-kit";
import type { Logger } from "pino";
import { orderChangedChannel } from "./order-store";

/** One watcher's view of an order's changes. */
export interface OrderChangeSubscription {
  /**
   * Resolves when the order may have changed: a notification arrived (also one that arrived since the
   * last call), `timeoutMs` passed (the polling fallback), `signal` aborted, or the feed is closing.
   */
  next(timeoutMs: number, signal?: AbortSignal): Promise<void>;
  close(): void;
}

/**
 * Tells watchers in this process that an order changed. One LISTEN per process on the channel every
 * status change NOTIFYs (in its transaction, so whichever replica made the change), fanned out by
 * order id. Watchers also poll, so a missed notification (a dropped LISTEN connection) only delays.
 * When the service stops serving, every watcher is woken and {@link closing} turns true.
 */
export class OrderChangeFeed implements BackgroundTask {
  readonly name = "order-change-feed";
  private readonly listeners = new Map<string, Set<() => void>>();
  private unlisten?: () => Promise<void>;
  private servingTimer?: NodeJS.Timeout;
  private wasServing = false;
  private closed = false;

  constructor(
    private readonly database: Pick<Database<Record<string, unknown>>, "listen">,
    private readonly logger: Logger,
    private readonly isServing: () => boolean = () => true,
  ) {}

  /** True once the service stopped serving: watchers should end and let clients reconnect elsewhere. */
  get closing(): boolean {
    return this.closed;
  }

  async start(): Promise<void> {
    this.unlisten = await this.database.listen(orderChangedChannel, (orderId) => this.notify(orderId));
    this.servingTimer = setInterval(() => {
      const serving = this.isServing();
      if (this.wasServing && !serving) this.close();
      this.wasServing = serving;
    }, 100);
    this.servingTimer.unref();
  }

  async stop(): Promise<void> {
    this.close();
    clearInterval(this.servingTimer);
    await this.unlisten?.().catch((error: unknown) => this.logger.warn({ err: error }, "unlisten failed"));
  }

  /** Wakes every watcher; they end. */
  close(): void {
    this.closed = true;
    for (const group of this.listeners.values()) for (const listener of group) listener();
  }

  /** Wakes the watchers of `orderId` (called for every NOTIFY, and directly after local changes). */
  notify(orderId: string): void {
    for (const listener of this.listeners.get(orderId) ?? []) listener();
  }

  /** Starts following an order; subscribe before reading it, so no change slips in between. */
  subscribe(orderId: string): OrderChangeSubscription {
    let dirty = false;
    let wake: (() => void) | undefined;
    const listener = () => {
      dirty = true;
      wake?.();
    };
    let group = this.listeners.get(orderId);
    if (!group) {
      group = new Set();
      this.listeners.set(orderId, group);
    }
    group.add(listener);
    return {
      next: async (timeoutMs, signal) => {
        if (!dirty && !this.closed && !signal?.aborted) {
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, timeoutMs);
            function done() {
              clearTimeout(timer);
              signal?.removeEventListener("abort", done);
              wake = undefined;
              resolve();
            }
            wake = done;
            signal?.addEventListener("abort", done, { once: true });
          });
        }
        dirty = false;
      },
      close: () => {
        const current = this.listeners.get(orderId);
        current?.delete(listener);
        if (current?.size === 0) this.listeners.delete(orderId);
      },
    };
  }
}
