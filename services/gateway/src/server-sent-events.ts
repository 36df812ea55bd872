import { PassThrough } from "node:stream";
import type { ResponseIterable } from "@agora/service-kit";
import { isServiceError } from "@agora/service-kit";
import type { JsonValue } from "@bufbuild/protobuf";
import { type ErrorBody, HttpError, httpErrorFromGrpc } from "./http-errors";

/** One server-sent-events frame: `event: <name>` and `data: <json>` lines, then a blank line. */
export function sseFrame(event: string, data: JsonValue | ErrorBody): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A comment frame that keeps proxies from closing an idle stream. */
export const sseHeartbeat = ": heartbeat\n\n";

/** Options of {@link bridgeToSse}. */
export interface SseBridgeOptions {
  /** Converts one encoded response message to proto3 JSON. */
  toJson(message: Buffer): JsonValue;
  /** Body of an `event: error` frame for a failure after the stream started. */
  errorBody(error: HttpError): ErrorBody;
  /** Name of the service streaming, for error messages. */
  downstream: string;
  /** Interval of heartbeat comments. */
  heartbeatMs: number;
  /** How long to wait for the first message before committing to a 200 stream. */
  firstMessageWaitMs: number;
}

/** A started SSE response: the body stream to hand to fastify and a way to end it early. */
export interface SseStream {
  readonly body: PassThrough;
  /** Ends the response without an `end` frame (clients reconnect), cancelling the gRPC call. */
  abort(): void;
  /** Resolves when the stream is over, for whatever reason. */
  readonly done: Promise<void>;
}

type Step = { kind: "message"; value: Buffer } | { kind: "end" } | { kind: "error"; error: HttpError };

function asHttpError(error: unknown, downstream: string): HttpError {
  if (error instanceof HttpError) return error;
  if (isServiceError(error)) return httpErrorFromGrpc(error, downstream);
  return new HttpError(500, "INTERNAL", "the stream failed inside the gateway");
}

/**
 * Bridges a server-streaming gRPC call to `text/event-stream`. It first waits (up to
 * `firstMessageWaitMs`) for the first message: a failure before it is thrown as an {@link HttpError}
 * so the client gets a normal JSON error (404 for another customer's order). After that, each message
 * becomes `event: message`, a failure becomes `event: error` with the mapped error, the end of the
 * gRPC stream becomes `event: end`; heartbeat comments flow meanwhile. Destroying the body (the client
 * went away) cancels the gRPC call.
 */
export async function bridgeToSse(call: ResponseIterable<Buffer>, options: SseBridgeOptions): Promise<SseStream> {
  const iterator = call[Symbol.asyncIterator]();
  let cancelled = false;
  const next = (): Promise<Step> =>
    iterator.next().then(
      (result): Step => (result.done ? { kind: "end" } : { kind: "message", value: result.value }),
      (error: unknown): Step => ({ kind: "error", error: asHttpError(error, options.downstream) }),
    );

  let pending = next();
  const timeout = new Promise<"waiting">((resolve) =>
    setTimeout(() => resolve("waiting"), options.firstMessageWaitMs).unref(),
  );
  const first = await Promise.race([pending, timeout]);
  if (first !== "waiting" && first.kind === "error") {
    call.cancel();
    throw first.error;
  }

  const body = new PassThrough();
  let resolveDone: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const heartbeat = setInterval(() => {
    if (!body.destroyed && !body.writableEnded) body.write(sseHeartbeat);
  }, options.heartbeatMs);
  heartbeat.unref();
  const finish = () => {
    clearInterval(heartbeat);
    resolveDone();
  };
  body.on("close", () => {
    if (!cancelled) {
      cancelled = true;
      call.cancel();
    }
    finish();
  });
  // Padding comment: flushes headers through proxies at once.
  body.write(": stream open\n\n");

  void (async () => {
    try {
      for (;;) {
        const step = await pending;
        if (cancelled || body.destroyed) return;
        if (step.kind === "message") {
          let frame: string;
          try {
            frame = sseFrame("message", options.toJson(step.value));
          } catch {
            body.end(
              sseFrame(
                "error",
                options.errorBody(new HttpError(502, "INTERNAL", "the service sent a message the gateway cannot read")),
              ),
            );
            cancelled = true;
            call.cancel();
            return;
          }
          if (!body.write(frame)) {
            await new Promise<void>((resolve) => {
              body.once("drain", resolve);
              body.once("close", resolve);
            });
          }
          pending = next();
        } else if (step.kind === "end") {
          body.end(sseFrame("end", {}));
          return;
        } else {
          body.end(sseFrame("error", options.errorBody(step.error)));
          return;
        }
      }
    } finally {
      if (body.writableEnded) finish();
    }
  })();

  return {
    body,
    abort: () => {
      if (!cancelled) {
        cancelled = true;
        call.cancel();
      }
      body.end();
    },
    done,
  };
}
