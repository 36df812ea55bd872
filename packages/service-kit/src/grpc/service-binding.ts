import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import {
  context as otelContext,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { Logger } from "pino";
import { DomainError, statusName } from "../errors";
import { metadataKeys, type RequestContext, runWithRequestContext } from "../request-context";
import { downstreamOf } from "./client";
import {
  isServiceError,
  type MethodDefinitionLike,
  type RequestOf,
  type ResponseOf,
  type ServiceDefinitionLike,
  splitPath,
} from "./types";

/** What a handler knows about the call it serves. */
export interface CallContext extends RequestContext {
  /** Incoming metadata. */
  readonly metadata: grpc.Metadata;
  /** Full method path, e.g. "/agora.catalog.v1.CatalogService/GetProduct". */
  readonly path: string;
  /** Logger with the method and correlation id attached. */
  readonly logger: Logger;
  /** Aborted when the caller cancels or the deadline passes. */
  readonly signal: AbortSignal;
}

/** Sends messages of a server stream; resolves once the transport accepted the message (backpressure). */
export interface ResponseStream<T> {
  send(message: T): Promise<void>;
}

/** The promise-based handlers of a service: one function per RPC, typed from the definition. */
export type ServiceHandlers<D extends ServiceDefinitionLike> = {
  [K in keyof D]: D[K] extends { requestStream: false; responseStream: false }
    ? (request: RequestOf<D[K]>, context: CallContext) => Promise<ResponseOf<D[K]>>
    : D[K] extends { requestStream: false; responseStream: true }
      ? (request: RequestOf<D[K]>, context: CallContext, stream: ResponseStream<ResponseOf<D[K]>>) => Promise<void>
      : never;
};

/** A service definition with its handlers, ready to be added to a server. */
export interface ServiceBinding {
  /** Fully qualified service name, e.g. "agora.catalog.v1.CatalogService". */
  readonly name: string;
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
}

/** Simulated faults for canary demos (FAULT_ERROR_RATE, FAULT_DELAY_MS). */
export interface FaultInjection {
  errorRate: number;
  delayMs: number;
}

/** Reads W3C trace headers from incoming gRPC metadata. */
export const metadataGetter: TextMapGetter<grpc.Metadata> = {
  keys: (metadata) => Object.keys(metadata.getMap()),
  get: (metadata, key) => {
    const values = metadata.get(key).filter((value): value is string => typeof value === "string");
    return values.length === 0 ? undefined : values;
  },
};

/** Codes that mark a server span as failed (the server's fault, not the caller's). */
const serverErrorCodes = new Set([
  grpc.status.UNKNOWN,
  grpc.status.INTERNAL,
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.UNIMPLEMENTED,
  grpc.status.DATA_LOSS,
]);

/** Starts the server span of a call, continuing the caller's trace from its metadata. */
function startServerSpan(tracer: Tracer | undefined, path: string, context: CallContext): Span {
  const parent = propagation.extract(ROOT_CONTEXT, context.metadata, metadataGetter);
  const { service, method } = splitPath(path);
  const activeTracer = tracer ?? trace.getTracer("agora-disabled");
  return activeTracer.startSpan(
    `${service}/${method}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        "rpc.system": "grpc",
        "rpc.service": service,
        "rpc.method": method,
        // Links a trace to the log lines and events of the same request.
        "agora.correlation_id": context.correlationId,
      },
    },
    parent,
  );
}

function endServerSpan(span: Span, code: grpc.status, details?: string): void {
  span.setAttribute("rpc.grpc.status_code", code);
  if (serverErrorCodes.has(code)) span.setStatus({ code: SpanStatusCode.ERROR, message: details });
  span.end();
}

const decodeFailure = Symbol("decodeFailure");
interface DecodeFailure {
  [decodeFailure]: string;
}

function isDecodeFailure(value: unknown): value is DecodeFailure {
  return typeof value === "object" && value !== null && decodeFailure in value;
}

/**
 * Maps an error thrown by a handler to the status sent to the caller: a DomainError keeps its code
 * and message; a failed downstream call that the handler let through keeps its code and its message
 * unchanged (the downstream wrote it for callers: "field: problem" for INVALID_ARGUMENT, which the
 * gateway shows its clients as it is), and the log line names the downstream; a database failure a
 * retry can fix is UNAVAILABLE or ABORTED; anything else is INTERNAL with the detail logged, not
 * sent. A handler that wants its callers to read a downstream's failure differently catches it and
 * throws a DomainError of its own.
 */
export function toStatus(error: unknown, logger: Logger): grpc.StatusObject {
  if (error instanceof DomainError) {
    return { code: error.code, details: error.message, metadata: new grpc.Metadata() };
  }
  if (isServiceError(error)) {
    const downstream = downstreamOf(error);
    logger.warn(
      { ...(downstream ? { downstream } : {}), code: statusName(error.code), details: error.details },
      downstream ? `call to ${downstream} failed` : "downstream call failed",
    );
    return { code: error.code, details: error.details, metadata: new grpc.Metadata() };
  }
  const transient = transientDatabaseFailure(error);
  if (transient) {
    logger.warn({ err: error }, `database ${transient.reason}`);
    return {
      code: transient.code,
      details: `database ${transient.reason}; retry later`,
      metadata: new grpc.Metadata(),
    };
  }
  const errorId = randomUUID();
  logger.error({ err: error, error_id: errorId }, "unexpected error in handler");
  return {
    code: grpc.status.INTERNAL,
    details: `internal error (error id ${errorId}); the service logged the details`,
    metadata: new grpc.Metadata(),
  };
}

/**
 * Postgres failures a retry can fix, found anywhere in the error's cause chain (drizzle wraps the
 * driver's error): no connection or too many (UNAVAILABLE), a serialization failure or deadlock (ABORTED).
 */
export function transientDatabaseFailure(error: unknown): { code: grpc.status; reason: string } | undefined {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") {
      if (code === "40001" || code === "40P01")
        return { code: grpc.status.ABORTED, reason: "conflict (serialization or deadlock)" };
      if (
        code.startsWith("08") ||
        code === "53300" ||
        code.startsWith("57P") ||
        code === "ECONNREFUSED" ||
        code === "ECONNRESET"
      ) {
        return { code: grpc.status.UNAVAILABLE, reason: "unavailable" };
      }
    }
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function deadlineOf(call: { getDeadline(): grpc.Deadline }): Date | undefined {
  const deadline = call.getDeadline();
  if (deadline instanceof Date) return deadline;
  return Number.isFinite(deadline) ? new Date(deadline) : undefined;
}

function firstString(metadata: grpc.Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function contextFor(
  call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>,
  path: string,
  logger: Logger,
): CallContext {
  const abort = new AbortController();
  call.on("cancelled", () => abort.abort(new Error("cancelled by the caller")));
  const deadline = deadlineOf(call);
  // The kit's server settled the id in correlationIdInterceptor; the fallbacks serve a handler bound
  // to a server without it.
  const correlationId =
    firstString(call.metadata, metadataKeys.correlationId) ??
    firstString(call.metadata, metadataKeys.requestId) ??
    randomUUID();
  const customerId = firstString(call.metadata, metadataKeys.customerId);
  return {
    correlationId,
    deadline,
    signal: abort.signal,
    customerId,
    metadata: call.metadata,
    path,
    logger: logger.child({ rpc: path }),
  };
}

/**
 * The deliberately faulty build of canary demos: waits `delayMs`, then fails a share `errorRate` of
 * calls with UNAVAILABLE (a DomainError). Every bound gRPC method runs it before its handler; a
 * service serving another protocol (the HTTP gateway) runs it per request with its setup context's
 * `faults`.
 */
export async function injectFaults(faults: FaultInjection | undefined): Promise<void> {
  if (!faults) return;
  if (faults.delayMs > 0) await sleep(faults.delayMs);
  if (faults.errorRate > 0 && Math.random() < faults.errorRate) {
    throw new DomainError(grpc.status.UNAVAILABLE, "injected fault (FAULT_ERROR_RATE)");
  }
}

/**
 * Runs one call's handler inside its server span and request context, after the decode check and
 * fault injection. Resolves with what completes the call; rejects with the status to send.
 */
async function serve<T>(
  call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>,
  path: string,
  options: { logger: Logger; faults?: FaultInjection; tracer?: Tracer },
  work: (context: CallContext) => Promise<T>,
): Promise<T> {
  const context = contextFor(call, path, options.logger);
  const span = startServerSpan(options.tracer, path, context);
  return otelContext.with(trace.setSpan(otelContext.active(), span), () =>
    runWithRequestContext(context, async () => {
      try {
        if (isDecodeFailure(call.request)) {
          throw new DomainError(
            grpc.status.INVALID_ARGUMENT,
            `request: not a valid message (${call.request[decodeFailure]})`,
          );
        }
        await injectFaults(options.faults);
        const result = await work(context);
        endServerSpan(span, call.cancelled ? grpc.status.CANCELLED : grpc.status.OK);
        return result;
      } catch (error) {
        const status = toStatus(error, context.logger);
        endServerSpan(span, status.code, status.details);
        throw status;
      }
    }),
  );
}

/**
 * Binds promise-based handlers to a ts-proto service definition.
 Every call runs inside a request
 * context (correlation id, deadline, customer), thrown errors become statuses via {@link toStatus},
 * and a request that cannot be decoded is INVALID_ARGUMENT instead of grpc-js's INTERNAL.
 */
export function bindService<D extends ServiceDefinitionLike>(
  definition: D,
  handlers: ServiceHandlers<D>,
  options: { logger: Logger; faults?: FaultInjection; tracer?: Tracer },
): ServiceBinding {
  const safeDefinition: Record<string, MethodDefinitionLike> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  let serviceName = "";
  for (const [name, method] of Object.entries(definition)) {
    serviceName = splitPath(method.path).service;
    safeDefinition[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return method.requestDeserialize(bytes);
        } catch (error) {
          return { [decodeFailure]: error instanceof Error ? error.message : String(error) } satisfies DecodeFailure;
        }
      },
    };
    const handler = (handlers as Record<string, unknown>)[name];
    if (typeof handler !== "function") throw new Error(`no handler for ${method.path}`);
    if (method.requestStream) throw new Error(`${method.path}: client streaming is not supported by the kit`);
    if (!method.responseStream) {
      implementation[name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        serve(call, method.path, options, async (context) => {
          const response = await handler(call.request, context);
          return () => callback(null, response);
        }).then(
          (respond) => respond(),
          (status: grpc.StatusObject) => callback(status),
        );
      }) as grpc.handleUnaryCall<unknown, unknown>;
    } else {
      implementation[name] = ((call: grpc.ServerWritableStream<unknown, unknown>) => {
        const stream: ResponseStream<unknown> = {
          send: (message) =>
            new Promise<void>((resolve) => {
              if (call.cancelled || call.writableEnded) return resolve();
              if (call.write(message)) resolve();
              else call.once("drain", () => resolve());
            }),
        };
        serve(call, method.path, options, async (context) => {
          await handler(call.request, context, stream);
          return () => {
            if (!call.cancelled) call.end();
          };
        }).then(
          (finish) => finish(),
          (status: grpc.StatusObject) => {
            if (!call.cancelled) call.emit("error", status);
          },
        );
      }) as grpc.handleServerStreamingCall<unknown, unknown>;
    }
  }
  return { name: serviceName, definition: safeDefinition as unknown as grpc.ServiceDefinition, implementation };
}
