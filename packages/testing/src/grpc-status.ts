import * as grpc from "@grpc/grpc-js";

/** Resolves with the gRPC error of a call expected to fail (and throws when it succeeds). */
export async function grpcFailure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call;
  } catch (error) {
    return error as grpc.ServiceError;
  }
  throw new Error("the call succeeded but was expected to fail");
}

/** Expects a call to fail with `code` and details containing (or matching) `details`. */
export async function expectGrpcStatus(
  call: Promise<unknown>,
  code: grpc.status,
  details: string | RegExp,
): Promise<void> {
  // Loaded here, not at the top: @jest/globals throws when imported outside a test, and the rest of
  // this package (OtlpReceiver, test databases) also serves the benchmarks.
  const { expect } = await import("@jest/globals");
  const error = await grpcFailure(call);
  expect({ code: grpc.status[error.code], details: error.details }).toEqual({
    code: grpc.status[code],
    details: typeof details === "string" ? expect.stringContaining(details) : expect.stringMatching(details),
  });
}

/** How a call ended, for comparing races: "OK" or "<CODE>: <details>". */
export function grpcOutcome(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => "OK",
    (error: grpc.ServiceError) => `${grpc.status[error.code]}: ${error.details}`,
  );
}
