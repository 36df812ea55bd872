/**
 * The gRPC status codes the order service reasons about (numbers fixed by the gRPC spec), so domain
 * code classifies downstream errors without depending on @grpc/grpc-js directly.
 */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** The status code of a failed gRPC call, or undefined for other errors. */
export function codeOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** The status message of a failed gRPC call (its details), or the error's message. */
export function detailsOf(error: unknown): string {
  const details = (error as { details?: unknown } | null)?.details;
  if (typeof details === "string" && details !== "") return details;
  return error instanceof Error ? error.message : String(error);
}

const names = new Map<number, string>(Object.entries(GrpcCode).map(([name, code]) => [code, name]));

/** "UNAVAILABLE" for 14; "ERROR" when there is no code. */
export function statusLabel(code: number | undefined): string {
  if (code === undefined) return "ERROR";
  return names.get(code) ?? `CODE_${code}`;
}
