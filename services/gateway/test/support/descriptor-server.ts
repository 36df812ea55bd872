import { create, type DescService, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";

/** A unary handler over protobuf-es messages: returns the response fields or throws a grpc status. */
export type DynamicUnaryHandler = (
  // biome-ignore lint/suspicious/noExplicitAny: the message type comes from a runtime descriptor
  request: any,
  call: grpc.ServerUnaryCall<unknown, unknown>,
) => Promise<Record<string, unknown>> | Record<string, unknown>;

/**
 * Serves a service known only from its descriptor (a test proto built with buf): requests and
 * responses are (de)serialized with protobuf-es, handlers are by RPC name. A handler may throw
 * `{ code, details }` to fail with that gRPC status.
 */
export function registerDescriptorService(
  server: grpc.Server,
  service: DescService,
  handlers: Record<string, DynamicUnaryHandler>,
): void {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    definition[method.name] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (message: unknown) => Buffer.from(toBinary(method.input, message as never)),
      requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
      responseSerialize: (message: unknown) =>
        Buffer.from(toBinary(method.output, create(method.output, message as MessageInitShape<typeof method.output>))),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
    };
    const handler = handlers[method.name];
    if (!handler) continue;
    implementation[method.name] = ((
      call: grpc.ServerUnaryCall<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      Promise.resolve()
        .then(() => handler(call.request, call))
        .then(
          (response) => callback(null, response),
          (error: unknown) => callback(error as grpc.ServiceError),
        );
    }) as grpc.handleUnaryCall<unknown, unknown>;
  }
  server.addService(definition as grpc.ServiceDefinition, implementation);
}
