/**
 * A failed request as the load generator reports it. `code` is the key errors are counted by:
 * `http:<status>` for an HTTP error response, `grpc:<STATUS_NAME>` for a gRPC status,
 * `net:<errno>` for a network failure (net:ECONNREFUSED, net:ECONNRESET …), `timeout` when the
 * request outlived --timeout, `order-timeout` when an order did not finish within --order-timeout,
 * `bad-response` when a success response could not be understood.
 */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** Thrown when a flow is cut off at the end of the run (it counts as incomplete, not as an error). */
export class AbortedFlowError extends Error {
  constructor() {
    super("the run ended before the flow finished");
    this.name = "AbortedFlowError";
  }
}

/** The code an error is counted under; anything not from the API is a bug of the tool (`loadgen:<Name>`). */
export function errorCode(error: unknown): string {
  if (error instanceof ApiError) return error.code;
  if (error instanceof AbortedFlowError) return "aborted";
  return `loadgen:${error instanceof Error ? error.name : typeof error}`;
}

/** A one-line description of an error, for the sample shown next to its code. */
export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}
