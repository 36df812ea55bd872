import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { statusName } from "../errors";
import type { GrpcMetrics } from "../metrics";
import { metadataKeys } from "../request-context";
import { splitPath } from "./types";

type MethodShape = { path: string; requestStream: boolean; responseStream: boolean };

function callType(method: MethodShape): string {
  if (method.requestStream) return method.responseStream ? "bidi_stream" : "client_stream";
  return method.responseStream ? "server_stream" : "unary";
}

/** Health checks and reflection are logged at debug level so probes do not flood the log. */
function isHousekeeping(service: string): boolean {
  return service.startsWith("grpc.health.") || service.startsWith("grpc.reflection.");
}

/**
 * Calls `onEnd` exactly once with the final status code: when the status is sent, or CANCELLED when
 * the client goes away first (grpc-js also fires onCancel after a completed call, hence the flag).
 */
function observeCall(
  call: grpc.ServerInterceptingCallInterface,
  onStart: (metadata: grpc.Metadata) => void,
  onEnd: (code: number, details: string) => void,
): grpc.ServerInterceptingCall {
  let ended = false;
  const end = (code: number, details: string) => {
    if (ended) return;
    ended = true;
    onEnd(code, details);
  };
  return new grpc.ServerInterceptingCall(call, {
    start(next) {
      next({
        onReceiveMetadata(metadata, nextMetadata) {
          onStart(metadata);
          nextMetadata(metadata);
        },
        onCancel() {
          end(grpc.status.CANCELLED, "cancelled by the client");
        },
      });
    },
    sendStatus(status, next) {
      end(status.code, status.details);
      next(status);
    },
  });
}

/** The correlation id a caller sent (x-correlation-id, else x-request-id), if any. */
function incomingCorrelationId(metadata: grpc.Metadata): string | undefined {
  for (const key of [metadataKeys.correlationId, metadataKeys.requestId]) {
    const value = metadata.get(key)[0];
    if (typeof value === "string" && value !== "") return value;
  }
  return undefined;
}

/**
 * Gives every call its correlation id before anything else sees it: the caller's (x-correlation-id,
 * else x-request-id), or a new one, written into the call's metadata as x-correlation-id. The access
 * log, the handler's context, outgoing calls and the events it writes then all share that one id.
 * Must come first among the server's interceptors.
 */
export function correlationIdInterceptor(): grpc.ServerInterceptor {
  return (_method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMetadata) {
            const correlationId = incomingCorrelationId(metadata) ?? randomUUID();
            metadata.set(metadataKeys.correlationId, correlationId);
            nextMetadata(metadata);
          },
        });
      },
    });
}

/** Counts every call and measures its duration by method and status code (RED metrics). */
export function metricsInterceptor(metrics: GrpcMetrics): grpc.ServerInterceptor {
  return (method, call) => {
    const { service, method: name } = splitPath(method.path);
    const labels = { grpc_type: callType(method), grpc_service: service, grpc_method: name };
    const started = process.hrtime.bigint();
    metrics.serverStarted.inc(labels);
    return observeCall(
      call,
      () => {},
      (code) => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const withCode = { ...labels, grpc_code: statusName(code) };
        metrics.serverHandled.inc(withCode);
        metrics.serverHandlingSeconds.observe(withCode, seconds);
      },
    );
  };
}

/** Writes one structured log line per call: method, status, duration, peer and correlation id. */
export function accessLogInterceptor(logger: Logger): grpc.ServerInterceptor {
  return (method, call) => {
    const { service } = splitPath(method.path);
    const started = process.hrtime.bigint();
    let correlationId: string | undefined;
    return observeCall(
      call,
      (metadata) => {
        correlationId = incomingCorrelationId(metadata);
      },
      (code, details) => {
        const entry = {
          rpc: method.path,
          grpc_code: statusName(code),
          duration_ms: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
          peer: call.getPeer(),
          ...(correlationId ? { correlation_id: correlationId } : {}),
          ...(code === grpc.status.OK ? {} : { details }),
        };
        if (code === grpc.status.INTERNAL || code === grpc.status.UNKNOWN) logger.error(entry, "rpc failed");
        else if (isHousekeeping(service)) logger.debug(entry, "rpc");
        else logger.info(entry, "rpc");
      },
    );
  };
}
