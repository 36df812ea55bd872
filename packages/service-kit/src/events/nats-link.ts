import { setTimeout as sleep } from "node:timers/promises";
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";

/** Thrown by {@link NatsLink.jetstream} and {@link NatsLink.nats} when the wait was given up. */
export class NatsWaitAbortedError extends Error {
  override name = "NatsWaitAbortedError";
}

/**
 * The service's connection to NATS. It connects in the background and keeps reconnecting for ever,
 * so a service starts (and its outbox keeps accepting events) while the broker is down; users await
 * {@link NatsLink.jetstream} for a connected client, passing the signal of their own stop so that a
 * service shutting down while the broker is unreachable does not wait for a connection that never
 * comes. {@link NatsLink.close} ends every such wait too.
 */
export class NatsLink {
  private connection?: NatsConnection;
  private readonly ready: Promise<NatsConnection>;
  private closed = false;
  /** Aborted by close(): ends the retry pause and every waiter. */
  private readonly closing = new AbortController();

  constructor(
    readonly url: string,
    private readonly name: string,
    private readonly logger: Logger,
  ) {
    this.ready = this.connectWithRetry();
    this.ready.catch(() => {});
  }

  private async connectWithRetry(): Promise<NatsConnection> {
    let delay = 250;
    for (;;) {
      if (this.closed) throw new Error("NATS link closed");
      try {
        const connection: NatsConnection = await connect({
          servers: this.url.split(","),
          name: this.name,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          reconnectJitter: 250,
          pingInterval: 10_000,
          maxPingOut: 3,
        });
        if (this.closed) {
          // Closed while this attempt was under way: nobody will use or close it.
          await connection.close().catch(() => undefined);
          throw new Error("NATS link closed");
        }
        this.connection = connection;
        this.logger.info({ nats: this.url }, "connected to NATS");
        void this.watch(connection);
        return connection;
      } catch (error) {
        if (this.closed) throw new Error("NATS link closed");
        this.logger.warn({ nats: this.url, err: error, retry_ms: delay }, "NATS not reachable yet; retrying");
        await sleep(delay, undefined, { signal: this.closing.signal }).catch(() => undefined);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  private async watch(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (status.type === "disconnect") this.logger.warn({ nats: this.url }, "NATS disconnected; reconnecting");
      else if (status.type === "reconnect") this.logger.info({ nats: this.url }, "NATS reconnected");
    }
  }

  /**
   * A connected NATS connection (waits for the first connection). Rejects with
   * {@link NatsWaitAbortedError} when `signal` is aborted or the link is closed before that.
   */
  async nats(signal?: AbortSignal): Promise<NatsConnection> {
    const signals = signal ? [signal, this.closing.signal] : [this.closing.signal];
    const stop = AbortSignal.any(signals);
    if (stop.aborted) throw new NatsWaitAbortedError("stopped waiting for NATS");
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new NatsWaitAbortedError("stopped waiting for NATS"));
      stop.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([this.ready, aborted]);
    } finally {
      if (onAbort) stop.removeEventListener("abort", onAbort);
    }
  }

  private clients?: { js: JetStreamClient; jsm: JetStreamManager };

  /**
   * JetStream client and manager over the connection (made once; they survive reconnects). Waits for
   * the first connection like {@link NatsLink.nats}, giving up when `signal` is aborted.
   */
  async jetstream(signal?: AbortSignal): Promise<{ js: JetStreamClient; jsm: JetStreamManager }> {
    const connection = await this.nats(signal);
    // checkAPI: false skips an account-info round trip; a missing JetStream shows on first use instead.
    this.clients ??= { js: jetstream(connection), jsm: await jetstreamManager(connection, { checkAPI: false }) };
    return this.clients;
  }

  /** True while connected (not during a reconnect). */
  isConnected(): boolean {
    return this.connection !== undefined && !this.connection.isClosed() && !this.connection.isDraining();
  }

  /** Stops connecting (or drains the connection) and ends every wait for a connection. */
  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    if (this.connection && !this.connection.isClosed())
      await this.connection.drain().catch(() => this.connection?.close());
  }
}
