import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";

/**
 * The service's connection to NATS. It connects in the background and keeps reconnecting for ever,
 * so a service starts (and its outbox keeps accepting events) while the broker is down; users await
 * {@link NatsLink.jetstream} for a connected client.
 */
export class NatsLink {
  private connection?: NatsConnection;
  private readonly ready: Promise<NatsConnection>;
  private closed = false;

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
        const connection = await connect({
          servers: this.url.split(","),
          name: this.name,
          maxReconnectAttempts: -1,
          reconnectTimeWait: 500,
          reconnectJitter: 250,
          pingInterval: 10_000,
          maxPingOut: 3,
        });
        this.connection = connection;
        this.logger.info({ nats: this.url }, "connected to NATS");
        void this.watch(connection);
        return connection;
      } catch (error) {
        this.logger.warn({ nats: this.url, err: error, retry_ms: delay }, "NATS not reachable yet; retrying");
        await new Promise((resolve) => setTimeout(resolve, delay));
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

  /** A connected NATS connection (waits for the first connection). */
  async nats(): Promise<NatsConnection> {
    return this.ready;
  }

  private clients?: { js: JetStreamClient; jsm: JetStreamManager };

  /** JetStream client and manager over the connection (made once; they survive reconnects). */
  async jetstream(): Promise<{ js: JetStreamClient; jsm: JetStreamManager }> {
    const connection = await this.ready;
    // checkAPI: false skips an account-info round trip; a missing JetStream shows on first use instead.
    this.clients ??= { js: jetstream(connection), jsm: await jetstreamManager(connection, { checkAPI: false }) };
    return this.clients;
  }

  /** True while connected (not during a reconnect). */
  isConnected(): boolean {
    return this.connection !== undefined && !this.connection.isClosed() && !this.connection.isDraining();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.connection && !this.connection.isClosed())
      await this.connection.drain().catch(() => this.connection?.close());
  }
}
