/** ANSI colours per service, so interleaved logs stay readable. */
const palette = [36, 32, 35, 33, 34, 96, 92, 95, 93, 94];

const levelStyles: Record<string, string> = {
  trace: "\u001b[90mTRACE\u001b[0m",
  debug: "\u001b[90mDEBUG\u001b[0m",
  info: "\u001b[32mINFO \u001b[0m",
  warn: "\u001b[33mWARN \u001b[0m",
  error: "\u001b[31mERROR\u001b[0m",
  fatal: "\u001b[41mFATAL\u001b[0m",
};

const hidden = new Set(["level", "time", "service", "version", "msg", "pid", "hostname"]);

/** A colour prefix like "catalog      │" for each service name. */
export function prefixFor(name: string, index: number, width: number, colour: boolean): string {
  const padded = name.padEnd(width);
  return colour ? `\u001b[${palette[index % palette.length]}m${padded}\u001b[0m │` : `${padded} │`;
}

function renderValue(value: unknown): string {
  if (typeof value === "string") return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === "object" && value !== null) {
    const error = value as { message?: unknown; type?: unknown };
    if (typeof error.message === "string") return JSON.stringify(`${error.type ?? "Error"}: ${error.message}`);
    return JSON.stringify(value);
  }
  return String(value);
}

/**
 * Turns one line of a service's pino JSON output into "12:01:02 INFO  message key=value …". Lines
 * that are not JSON (a crash stack trace, say) are passed through as they are.
 */
export function formatLogLine(line: string, colour: boolean): string {
  if (!line.startsWith("{")) return line;
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof entry.time === "string" ? entry.time.slice(11, 19) : "";
  const level = String(entry.level ?? "info");
  const styledLevel = colour ? (levelStyles[level] ?? level) : level.toUpperCase().padEnd(5);
  const fields = Object.entries(entry)
    .filter(([key]) => !hidden.has(key))
    .map(([key, value]) => `${colour ? `\u001b[90m${key}=\u001b[0m` : `${key}=`}${renderValue(value)}`)
    .join(" ");
  return `${time} ${styledLevel} ${String(entry.msg ?? "")}${fields ? ` ${fields}` : ""}`;
}
