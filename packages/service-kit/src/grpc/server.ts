import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";
import type { GrpcMetrics } from "../metrics";
import type { DescriptorIndex } from "./descriptor-index";
import { accessLogInterceptor, correlationIdInterceptor, metricsInterceptor } from "./interceptors";
import { addReflection } from "./reflection";
import type { ServiceBinding } from "./service-binding";

/** Message size limit in both directions: 4 MiB. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Server channel options: message limits; keepalive pings so dead peers are noticed; a maximum
 * connection age so clients re-resolve DNS and spread over new pods when no mesh balances per request.
 */
export const serverChannelOptions: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
  "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.max_connection_age_ms": 5 * 60_000,
  "grpc.max_connection_age_grace_ms": 30_000,
  "grpc.max_connection_idle_ms": 10 * 60_000,
};

export interface GrpcServerOptions {
  host: string;
  port: number;
  logger: Logger;
  metrics: GrpcMetrics;
  descriptors: DescriptorIndex;
  services: readonly ServiceBinding[];
  /** Channel options over {@link serverChannelOptions} (tests shorten keepalive with it). */
  channelOptions?: grpc.ChannelOptions;
}

/**
 * A gRPC server with health (NOT_SERVING until {@link GrpcServer.setServing}), reflection over the
 * compiled descriptors, access log and metrics interceptors, and a graceful drain.
 */
export class GrpcServer {
  private readonly server: grpc.Server;
  private readonly health: HealthImplementation;
  private readonly serviceNames: string[];
  private inFlightUnary = 0;
  private boundPort = 0;
  private draining?: Promise<void>;

  constructor(private readonly options: GrpcServerOptions) {
    const countUnary: grpc.ServerInterceptor = (method, call) => {
      if (method.requestStream || method.responseStream) return new grpc.ServerInterceptingCall(call);
      this.inFlightUnary++;
      let done = false;
      const finish = () => {
        if (!done) {
          done = true;
          this.inFlightUnary--;
        }
      };
      return new grpc.ServerInterceptingCall(call, {
        start: (next) => next({ onCancel: finish }),
        sendStatus: (status, next) => {
          finish();
          next(status);
        },
      });
    };
    this.server = new grpc.Server({
      ...serverChannelOptions,
      ...options.channelOptions,
      // The first interceptor sees the incoming metadata first: the correlation id is settled there.
      interceptors: [
        correlationIdInterceptor(),
        countUnary,
        metricsInterceptor(options.metrics),
        accessLogInterceptor(options.logger),
      ],
    });
    this.serviceNames = options.services.map((binding) => binding.name);
    this.health = new HealthImplementation(
      Object.fromEntries(["", ...this.serviceNames].map((name) => [name, "NOT_SERVING" as const])),
    );
    this.health.addToServer(this.server);
    for (const binding of options.services) this.server.addService(binding.definition, binding.implementation);
    addReflection(this.server, options.descriptors, () => [
      ...this.serviceNames,
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
    ]);
  }

  /** Binds the port (0 picks a free one) and starts taking calls; health stays NOT_SERVING. */
  async listen(): Promise<number> {
    const address = `${this.options.host}:${this.options.port}`;
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) =>
        error ? reject(new Error(`cannot listen for gRPC on ${address}: ${error.message}`)) : resolve(port),
      );
    });
    return this.boundPort;
  }

  /** The bound port. */
  get port(): number {
    return this.boundPort;
  }

  /** Sets the overall health and every served service's health. */
  setServing(serving: boolean): void {
    const status = serving ? "SERVING" : "NOT_SERVING";
    for (const name of ["", ...this.serviceNames]) this.health.setStatus(name, status);
  }

  /**
   * Stops taking new calls, waits for in-flight unary calls (at most `timeoutMs`), then cuts what is
   * left: server streams such as health Watch or WatchOrder, which would otherwise never end. Calling
   * it again returns the drain already under way.
   */
  drain(timeoutMs: number): Promise<void> {
    this.draining ??= this.drainOnce(timeoutMs);
    return this.draining;
  }

  private async drainOnce(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const stopped = new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    while (this.inFlightUnary > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (this.inFlightUnary > 0) {
      this.options.logger.warn({ in_flight: this.inFlightUnary }, "drain timeout reached; cancelling remaining calls");
    }
    this.server.forceShutdown();
    await stopped;
  }
}
