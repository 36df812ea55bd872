import type * as grpc from "@grpc/grpc-js";

/** One method of a ts-proto grpc-js service definition (e.g. `CatalogServiceService.getProduct`). */
export interface MethodDefinitionLike {
  readonly path: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  // biome-ignore lint/suspicious/noExplicitAny: matches grpc-js's own (de)serializer signatures
  readonly requestSerialize: (value: any) => Buffer;
  // biome-ignore lint/suspicious/noExplicitAny: matches grpc-js's own (de)serializer signatures
  readonly requestDeserialize: (bytes: Buffer) => any;
  // biome-ignore lint/suspicious/noExplicitAny: matches grpc-js's own (de)serializer signatures
  readonly responseSerialize: (value: any) => Buffer;
  // biome-ignore lint/suspicious/noExplicitAny: matches grpc-js's own (de)serializer signatures
  readonly responseDeserialize: (bytes: Buffer) => any;
}

/** A ts-proto grpc-js service definition: method name → definition. */
export type ServiceDefinitionLike = { readonly [method: string]: MethodDefinitionLike };

/** The request message type of a method definition. */
export type RequestOf<M> = M extends { requestSerialize: (value: infer R) => Buffer } ? R : never;
/** The response message type of a method definition. */
export type ResponseOf<M> = M extends { responseDeserialize: (bytes: Buffer) => infer R } ? R : never;

/** "/agora.catalog.v1.CatalogService/GetProduct" → { service, method }. */
export function splitPath(path: string): { service: string; method: string } {
  const [, service = "unknown", method = "unknown"] = path.split("/");
  return { service, method };
}

/** True for errors produced by grpc-js for a failed call (they carry a numeric status code). */
export function isServiceError(error: unknown): error is grpc.ServiceError {
  return (
    error instanceof Error &&
    typeof (error as Partial<grpc.ServiceError>).code === "number" &&
    "metadata" in error &&
    "details" in error
  );
}
