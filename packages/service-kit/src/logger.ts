import pino, { type Logger } from "pino";
import { currentRequestContext } from "./request-context";

export type { Logger } from "pino";

/** Extra fields merged into every log line, for example the active trace (set by the tracing module). */
const mixins: Array<() => Record<string, unknown>> = [];

/** Adds fields to every log line from now on (used by tracing to add trace_id and span_id). */
export function addLogMixin(mixin: () => Record<string, unknown>): void {
  mixins.push(mixin);
}

export interface LoggerOptions {
  service: string;
  version: string;
  level: string;
  /** "auto" pretty-prints when stdout is a terminal and writes JSON otherwise. */
  format: "auto" | "json" | "pretty";
  /** Where to write; standard output by default. Tests pass a stream to read the lines. */
  destination?: NodeJS.WritableStream;
}

/**
 * A pino logger writing one JSON object per line with the service name, version, correlation id
 * of the current request and (when tracing is on) trace and span ids; pretty-printed in a terminal.
 */
export function createLogger(options: LoggerOptions): Logger {
  const usePretty = options.format === "pretty" || (options.format === "auto" && process.stdout.isTTY === true);
  const destination =
    options.destination ??
    (usePretty
      ? // Loaded only for a terminal: services in containers never need it.
        (require("pino-pretty") as typeof import("pino-pretty"))({
          colorize: true,
          sync: true,
          translateTime: "HH:MM:ss.l",
          ignore: "pid,hostname,version",
        })
      : pino.destination({ sync: false }));
  return pino(
    {
      level: options.level,
      base: { service: options.service, version: options.version },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin() {
        const context = currentRequestContext();
        const fields: Record<string, unknown> = context ? { correlation_id: context.correlationId } : {};
        for (const mixin of mixins) Object.assign(fields, mixin());
        return fields;
      },
      redact: {
        paths: [
          "password",
          "*.password",
          "card.number",
          "*.card.number",
          "cvc",
          "*.cvc",
          "*.card.cvc",
          "authorization",
        ],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
