import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  type SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { addLogMixin } from "../logger";

export type { Span, Tracer } from "@opentelemetry/api";
export { SpanKind, SpanStatusCode } from "@opentelemetry/api";

let globalsRegistered = false;

/**
 * Registers, once per process, the W3C trace-context propagator and an AsyncLocalStorage context
 * manager, and adds trace_id/span_id to log lines. Cheap, and it lets trace context flow through a
 * service even when that service exports no spans itself.
 */
export function registerTracingGlobals(): void {
  if (globalsRegistered) return;
  globalsRegistered = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  );
  addLogMixin(() => {
    const spanContext = trace.getActiveSpan()?.spanContext();
    return spanContext && trace.isSpanContextValid(spanContext)
      ? { trace_id: spanContext.traceId, span_id: spanContext.spanId }
      : {};
  });
}

/** A service's tracer and how to flush it. */
export interface Tracing {
  readonly enabled: boolean;
  readonly tracer: Tracer;
  shutdown(): Promise<void>;
}

/**
 * Spans for one service, exported over OTLP/gRPC to `endpoint` in batches. Without an endpoint the
 * tracer is the API's no-op tracer: no spans are recorded and nothing is exported. Each service gets
 * its own provider (not the global one), so several services in one test process keep their names.
 *
 * The kit creates the gRPC and event spans itself rather than through auto-instrumentation: that works
 * the same under CommonJS, ESM and jest, and needs no preloading before @grpc/grpc-js is required.
 */
export function startTracing(options: { service: string; version: string; endpoint?: string }): Tracing {
  registerTracingGlobals();
  if (!options.endpoint) {
    return { enabled: false, tracer: trace.getTracer("agora-disabled"), shutdown: async () => {} };
  }
  // Loaded only when tracing is on: the SDK and the OTLP exporter cost ~17 MB of memory per process.
  const { OTLPTraceExporter } =
    require("@opentelemetry/exporter-trace-otlp-grpc") as typeof import("@opentelemetry/exporter-trace-otlp-grpc");
  const { resourceFromAttributes } = require("@opentelemetry/resources") as typeof import("@opentelemetry/resources");
  const { BatchSpanProcessor, TracerProvider } =
    require("@opentelemetry/sdk-trace") as typeof import("@opentelemetry/sdk-trace");
  const { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } =
    require("@opentelemetry/semantic-conventions") as typeof import("@opentelemetry/semantic-conventions");
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.service, [ATTR_SERVICE_VERSION]: options.version }),
    spanProcessors: [
      new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: options.endpoint }), scheduledDelayMillis: 500 }),
    ],
  });
  return {
    enabled: true,
    tracer: provider.getTracer("@agora/service-kit", options.version),
    shutdown: async () => {
      await provider.forceFlush();
      await provider.shutdown();
    },
  };
}

/** Reads and writes trace headers on a plain string map (NATS headers, outbox rows). */
export const recordGetter: TextMapGetter<Record<string, string>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};
export const recordSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** The current trace context as headers (traceparent, tracestate, baggage). */
export function traceHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier, recordSetter);
  return carrier;
}

/** A context continuing the trace described by `headers`. */
export function contextFromHeaders(headers: Record<string, string>): Context {
  return propagation.extract(ROOT_CONTEXT, headers, recordGetter);
}

/**
 * Runs `fn` in a new active span and ends it: OK when `fn` resolves, ERROR with the message when it
 * throws (and rethrows). `parent` defaults to the active context.
 */
export async function inSpan<T>(
  tracer: Tracer,
  name: string,
  options: { kind: SpanKind; attributes?: Record<string, string | number | boolean>; parent?: Context },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(
    name,
    { kind: options.kind, attributes: options.attributes },
    options.parent ?? context.active(),
    async (span) => {
      try {
        const result = await fn(span);
        span.setStatus({ code: SpanStatusCode.OK });
        return result;
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        throw error;
      } finally {
        span.end();
      }
    },
  );
}
