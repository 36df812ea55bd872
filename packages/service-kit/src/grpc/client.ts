import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { context as otelContext, propagation, SpanKind, SpanStatusCode, type Tracer, trace } from "@opentelemetry/api";
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  bulkhead,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  fallback as fallbackPolicy,
  handleWhen,
  type IPolicy,
  noop,
  retry,
  wrap,
} from "cockatiel";
import type { Logger } from "pino";
import { statusName } from "../errors";
import type { GrpcMetrics } from "../metrics";
import { currentRequestContext, metadataKeys } from "../request-context";
import { agoraDescriptors, type Idempotency } from "./descriptor-index";
import { isServiceError, type RequestOf, type ResponseOf, type ServiceDefinitionLike, splitPath } from "./types";

/** Codes worth another attempt of an idempotent call. */
export const retryableCodes: ReadonlySet<grpc.status> = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
  grpc.status.DEADLINE_EXCEEDED,
]);

/** Codes that count against a downstream's health (business errors such as NOT_FOUND do not). */
export const breakerFailureCodes: ReadonlySet<grpc.status> = new Set([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
]);

/** Resilience settings of one downstream. */
export interface ClientPolicies {
  /** Deadline of a whole call including retries, unless the incoming request's deadline is sooner. Default 5000. */
  timeoutMs?: number;
  /** Deadline of one attempt. Default: timeoutMs / 2, so an idempotent call gets a second chance. */
  attemptTimeoutMs?: number;
  /** Attempts in all (first + retries) for idempotent methods on retryable codes. Default 3. */
  maxAttempts?: number;
  /** Exponential backoff between attempts, with decorrelated jitter. Default 25 ms → 1 s. */
  backoff?: { initialDelayMs: number; maxDelayMs: number };
  /** Opens after this many consecutive failures and half-opens after halfOpenAfterMs. false disables. */
  breaker?: { consecutiveFailures: number; halfOpenAfterMs: number } | false;
  /** At most maxConcurrent calls in flight and maxQueued waiting; more are RESOURCE_EXHAUSTED. false disables. */
  bulkhead?: { maxConcurrent: number; maxQueued: number } | false;
  /** Which methods may be retried; by default read from the idempotency_level option in proto/. */
  idempotencyOf?: (path: string) => Idempotency;
}

/** Options of one call. */
export interface CallOptions<Res> {
  /** Overrides the client's timeoutMs for this call; Infinity for no deadline (long streams). */
  timeoutMs?: number;
  /** Extra metadata (for example the customer id the gateway vouches for). */
  metadata?: Record<string, string>;
  /** Cancels the call. The current request's cancellation applies anyway. */
  signal?: AbortSignal;
  /** Answer to use when the downstream is failing (unavailable, timed out, circuit open). */
  fallback?: (error: grpc.ServiceError) => Res | Promise<Res>;
}

/** A cancellable stream of responses. */
export interface ResponseIterable<T> extends AsyncIterable<T> {
  cancel(): void;
}

/** Promise-based client for a ts-proto service definition: one method per RPC. */
export type PromiseClient<D extends ServiceDefinitionLike> = {
  [K in keyof D]: D[K] extends { requestStream: false; responseStream: false }
    ? (request: RequestOf<D[K]>, options?: CallOptions<ResponseOf<D[K]>>) => Promise<ResponseOf<D[K]>>
    : D[K] extends { requestStream: false; responseStream: true }
      ? (request: RequestOf<D[K]>, options?: CallOptions<never>) => ResponseIterable<ResponseOf<D[K]>>
      : never;
} & {
  /** Closes the channel. */
  close(): void;
  /** Current circuit state: "closed", "open", "half-open" or "isolated". */
  circuitState(): string;
};

/** Client channel options: keepalive, message limits, round robin over every address DNS returns. */
export const clientChannelOptions: grpc.ChannelOptions = {
  "grpc.keepalive_time_ms": 30_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.max_receive_message_length": 4 * 1024 * 1024,
  "grpc.max_send_message_length": 4 * 1024 * 1024,
  "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  // grpc-js backs off up to 120 s between reconnects by default: a downstream that starts a minute
  // after its caller (a slow rollout, a restarted pod) would stay unreachable long after it is up.
  "grpc.initial_reconnect_backoff_ms": 250,
  "grpc.max_reconnect_backoff_ms": 5000,
};

function serviceError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${statusName(code)}: ${details}`), {
    code,
    details,
    metadata: new grpc.Metadata(),
  });
}

const circuitStateNames: Record<CircuitState, string> = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half-open",
  [CircuitState.Isolated]: "isolated",
};

/**
 * A client for one downstream service. Every call has a deadline (the sooner of its timeout and the
 * incoming request's deadline) and carries the correlation id; unary calls run through a bulkhead,
 * retries with exponential backoff and jitter (idempotent methods and retryable codes only), and a
 * circuit breaker per downstream whose state is exported as a metric.
 */
export function createClient<D extends ServiceDefinitionLike>(
  definition: D,
  address: string,
  options: { downstream: string; logger: Logger; metrics?: GrpcMetrics; policies?: ClientPolicies; tracer?: Tracer },
): PromiseClient<D> {
  const tracer = options.tracer ?? trace.getTracer("agora-disabled");
  const policies = options.policies ?? {};
  const timeoutMs = policies.timeoutMs ?? 5000;
  const maxAttempts = Math.max(1, policies.maxAttempts ?? 3);
  const attemptTimeoutMs =
    policies.attemptTimeoutMs ?? (maxAttempts > 1 ? Math.max(1, Math.floor(timeoutMs / 2)) : timeoutMs);
  const idempotencyOf = policies.idempotencyOf ?? ((path: string) => agoraDescriptors().idempotencyOf(path));
  const logger = options.logger.child({ downstream: options.downstream });
  const GenericClient = grpc.makeGenericClientConstructor(definition as unknown as grpc.ServiceDefinition, "");
  const channel = new GenericClient(address, grpc.credentials.createInsecure(), clientChannelOptions);

  const breakerSettings =
    policies.breaker === undefined ? { consecutiveFailures: 5, halfOpenAfterMs: 5000 } : policies.breaker;
  const breaker = breakerSettings
    ? circuitBreaker(
        handleWhen((error) => isServiceError(error) && breakerFailureCodes.has(error.code)),
        {
          halfOpenAfter: breakerSettings.halfOpenAfterMs,
          breaker: new ConsecutiveBreaker(breakerSettings.consecutiveFailures),
        },
      )
    : undefined;
  if (breaker) {
    options.metrics?.circuitState.set({ downstream: options.downstream }, CircuitState.Closed);
    breaker.onStateChange((state) => {
      options.metrics?.circuitState.set({ downstream: options.downstream }, state);
      logger.warn(
        { circuit: circuitStateNames[state] },
        `circuit to ${options.downstream} is ${circuitStateNames[state]}`,
      );
    });
  }
  const bulkheadSettings =
    policies.bulkhead === undefined ? { maxConcurrent: 200, maxQueued: 1000 } : policies.bulkhead;
  const limiter = bulkheadSettings ? bulkhead(bulkheadSettings.maxConcurrent, bulkheadSettings.maxQueued) : noop;
  const backoff = new ExponentialBackoff({
    initialDelay: policies.backoff?.initialDelayMs ?? 25,
    maxDelay: policies.backoff?.maxDelayMs ?? 1000,
  });

  /** Metadata of an outgoing call: correlation id, trace context of the active span, extras. */
  function callMetadata(extra: Record<string, string> | undefined): grpc.Metadata {
    const metadata = new grpc.Metadata();
    metadata.set(metadataKeys.correlationId, currentRequestContext()?.correlationId ?? randomUUID());
    propagation.inject(otelContext.active(), metadata, { set: (carrier, key, value) => carrier.set(key, value) });
    for (const [key, value] of Object.entries(extra ?? {})) metadata.set(key, value);
    return metadata;
  }

  function overallDeadline(callTimeoutMs: number): number {
    const own = Date.now() + callTimeoutMs;
    const incoming = currentRequestContext()?.deadline?.getTime() ?? Number.POSITIVE_INFINITY;
    return Math.min(own, incoming);
  }

  function linkSignals(own: AbortSignal | undefined): AbortSignal | undefined {
    const incoming = currentRequestContext()?.signal;
    const signals = [own, incoming].filter((signal): signal is AbortSignal => signal !== undefined);
    return signals.length === 0 ? undefined : AbortSignal.any(signals);
  }

  function unary(path: string, method: D[string], name: string) {
    const { service, method: methodName } = splitPath(path);
    const idempotent = idempotencyOf(path) !== "UNKNOWN";
    return (request: unknown, callOptions: CallOptions<unknown> = {}) => {
      const span = tracer.startSpan(`${service}/${methodName}`, {
        kind: SpanKind.CLIENT,
        attributes: {
          "rpc.system": "grpc",
          "rpc.service": service,
          "rpc.method": methodName,
          "peer.service": options.downstream,
        },
      });
      return otelContext.with(trace.setSpan(otelContext.active(), span), async () => {
        try {
          const response = await call(request, callOptions);
          span.setAttribute("rpc.grpc.status_code", grpc.status.OK);
          span.setStatus({ code: SpanStatusCode.OK });
          return response;
        } catch (error) {
          const code = isServiceError(error) ? error.code : grpc.status.UNKNOWN;
          span.setAttribute("rpc.grpc.status_code", code);
          span.setStatus({ code: SpanStatusCode.ERROR, message: statusName(code) });
          throw error;
        } finally {
          span.end();
        }
      });
    };

    async function call(request: unknown, callOptions: CallOptions<unknown>) {
      const started = process.hrtime.bigint();
      const deadline = overallDeadline(callOptions.timeoutMs ?? timeoutMs);
      const metadata = callMetadata(callOptions.metadata);
      const signal = linkSignals(callOptions.signal);
      const attempt = () =>
        new Promise<unknown>((resolve, reject) => {
          const remaining = deadline - Date.now();
          if (remaining <= 0) {
            reject(serviceError(grpc.status.DEADLINE_EXCEEDED, `no time left to call ${options.downstream}`));
            return;
          }
          const attemptDeadline = new Date(Date.now() + Math.min(remaining, idempotent ? attemptTimeoutMs : remaining));
          const call = channel.makeUnaryRequest(
            path,
            method.requestSerialize,
            method.responseDeserialize,
            request,
            metadata,
            { deadline: attemptDeadline },
            (error, response) => (error ? reject(error) : resolve(response)),
          );
          signal?.addEventListener("abort", () => call.cancel(), { once: true });
        });
      const retryPolicy: IPolicy = idempotent
        ? retry(
            handleWhen(
              (error) =>
                isServiceError(error) &&
                retryableCodes.has(error.code) &&
                deadline - Date.now() > 5 &&
                !(signal?.aborted ?? false),
            ),
            { maxAttempts: maxAttempts - 1, backoff },
          )
        : noop;
      if (retryPolicy !== noop) {
        (retryPolicy as ReturnType<typeof retry>).onRetry(() =>
          options.metrics?.clientRetries.inc({ grpc_service: service, grpc_method: methodName }),
        );
      }
      const policy = breaker ? wrap(limiter, retryPolicy, breaker) : wrap(limiter, retryPolicy);
      let code: grpc.status = grpc.status.OK;
      try {
        return await policy.execute(attempt);
      } catch (error) {
        const failure = asServiceError(error, options.downstream);
        code = failure.code;
        if (callOptions.fallback && breakerFailureCodes.has(failure.code)) {
          const fallback = callOptions.fallback;
          logger.warn({ rpc: path, grpc_code: statusName(failure.code) }, `using fallback for ${name}`);
          return await fallbackPolicy(
            handleWhen(() => true),
            () => fallback(failure),
          ).execute(() => {
            throw failure;
          });
        }
        throw failure;
      } finally {
        const labels = { grpc_service: service, grpc_method: methodName, grpc_code: statusName(code) };
        options.metrics?.clientHandled.inc(labels);
        options.metrics?.clientHandlingSeconds.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
      }
    }
  }

  function serverStream(path: string, method: D[string]) {
    return (request: unknown, callOptions: CallOptions<never> = {}): ResponseIterable<unknown> => {
      const deadline = overallDeadline(callOptions.timeoutMs ?? timeoutMs);
      const call = channel.makeServerStreamRequest(
        path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        callMetadata(callOptions.metadata),
        Number.isFinite(deadline) ? { deadline: new Date(deadline) } : {},
      );
      linkSignals(callOptions.signal)?.addEventListener("abort", () => call.cancel(), { once: true });
      return {
        cancel: () => call.cancel(),
        [Symbol.asyncIterator]: () => call[Symbol.asyncIterator]() as AsyncIterator<unknown>,
      };
    };
  }

  const client: Record<string, unknown> = {
    close: () => channel.close(),
    circuitState: () => (breaker ? circuitStateNames[breaker.state] : "closed"),
  };
  for (const [name, method] of Object.entries(definition)) {
    if (method.requestStream) continue;
    client[name] = method.responseStream
      ? serverStream(method.path, method as D[string])
      : unary(method.path, method as D[string], name);
  }
  return client as PromiseClient<D>;
}

const downstreamKey = Symbol("agora.downstream");

/** The downstream a failed call of a kit client went to ({@link createClient}'s `downstream`), if any. */
export function downstreamOf(error: unknown): string | undefined {
  const value = (error as { [downstreamKey]?: unknown } | null)?.[downstreamKey];
  return typeof value === "string" ? value : undefined;
}

function asServiceError(error: unknown, downstream: string): grpc.ServiceError {
  return Object.assign(toServiceError(error, downstream), { [downstreamKey]: downstream });
}

function toServiceError(error: unknown, downstream: string): grpc.ServiceError {
  if (isServiceError(error)) return error;
  if (error instanceof BrokenCircuitError) {
    return serviceError(grpc.status.UNAVAILABLE, `${downstream} is failing; circuit open, not calling it for now`);
  }
  if (error instanceof BulkheadRejectedError) {
    return serviceError(grpc.status.RESOURCE_EXHAUSTED, `too many calls in flight to ${downstream}`);
  }
  return serviceError(
    grpc.status.INTERNAL,
    `calling ${downstream}: ${error instanceof Error ? error.message : String(error)}`,
  );
}
