import { isServiceError } from "@agora/service-kit";
import { status as GrpcStatus, type ServiceError } from "@grpc/grpc-js";

/**
 * An error answered to the HTTP client as `{"error":{"code","message","requestId"}}` with `status`.
 * `code` is a gRPC status name (NOT_FOUND, INVALID_ARGUMENT, …) where one fits, otherwise an
 * HTTP-level name (METHOD_NOT_ALLOWED, UNSUPPORTED_MEDIA_TYPE, PAYLOAD_TOO_LARGE).
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "HttpError";
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string; requestId: string };
}

/** HTTP status for each gRPC status code (the table in docs/gateway.md). Codes not listed are 500. */
export const httpStatusByGrpcCode: Readonly<Partial<Record<GrpcStatus, number>>> = {
  [GrpcStatus.INVALID_ARGUMENT]: 400,
  [GrpcStatus.OUT_OF_RANGE]: 400,
  [GrpcStatus.UNAUTHENTICATED]: 401,
  [GrpcStatus.PERMISSION_DENIED]: 403,
  [GrpcStatus.NOT_FOUND]: 404,
  [GrpcStatus.ALREADY_EXISTS]: 409,
  [GrpcStatus.ABORTED]: 409,
  [GrpcStatus.FAILED_PRECONDITION]: 409,
  [GrpcStatus.RESOURCE_EXHAUSTED]: 429,
  [GrpcStatus.CANCELLED]: 499,
  [GrpcStatus.UNIMPLEMENTED]: 501,
  [GrpcStatus.UNAVAILABLE]: 503,
  [GrpcStatus.DEADLINE_EXCEEDED]: 504,
};

/** The gRPC status name of a code, e.g. 5 → "NOT_FOUND". */
export function grpcCodeName(code: number): string {
  return GrpcStatus[code] ?? "UNKNOWN";
}

/** The HTTP status a gRPC status code maps to. */
export function httpStatusOfGrpcCode(code: number): number {
  return httpStatusByGrpcCode[code as GrpcStatus] ?? 500;
}

/** Codes whose message comes from the transport or a crash, not from the service's domain logic. */
const serverSideCodes = new Set<number>([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.INTERNAL,
  GrpcStatus.UNKNOWN,
  GrpcStatus.DATA_LOSS,
  GrpcStatus.UNIMPLEMENTED,
]);

/**
 * Turns a failed downstream call into the error the client sees: the mapped HTTP status and the gRPC
 * code name. Client errors (4xx) carry the service's message, which services keep caller-safe and
 * which names the field; server-side failures get a generic message naming the downstream, so no
 * internal address or connection detail reaches the outside (the gateway logs the original).
 */
export function httpErrorFromGrpc(error: ServiceError, downstream = "a service"): HttpError {
  const status = httpStatusOfGrpcCode(error.code);
  const name = grpcCodeName(error.code);
  if (serverSideCodes.has(error.code)) {
    const message =
      error.code === GrpcStatus.DEADLINE_EXCEEDED
        ? `${downstream} did not answer in time`
        : error.code === GrpcStatus.UNAVAILABLE
          ? `${downstream} is unavailable right now; retry later`
          : error.code === GrpcStatus.UNIMPLEMENTED
            ? `${downstream} does not implement this call`
            : `${downstream} failed (${(error.details || "").match(/error id [0-9a-f-]+/)?.[0] ?? "no details"})`;
    return new HttpError(status, name, message, {}, { cause: error });
  }
  return new HttpError(status, name, error.details || name.toLowerCase().replaceAll("_", " "), {}, { cause: error });
}

/** A 400 for a request that does not fit the RPC's request message; `field` uses proto3 JSON names. */
export function invalidArgument(message: string): HttpError {
  return new HttpError(400, "INVALID_ARGUMENT", message);
}

/** The body of an error response. */
export function errorBody(error: HttpError, requestId: string): ErrorBody {
  return { error: { code: error.code, message: error.message, requestId } };
}

/** A promise rejection handler turning a failed downstream call into the client's HttpError. */
export function rethrowAsHttpError(downstream: string | undefined): (error: unknown) => never {
  return (error) => {
    throw isServiceError(error) ? httpErrorFromGrpc(error, downstream) : error;
  };
}
