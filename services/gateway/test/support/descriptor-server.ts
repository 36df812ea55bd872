import { create, type DescService, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import type * as grpc from "@grpc/grpc-js";

/**
 * A handler over protobuf-es messages: a unary one returns the response fields (or throws a grpc
 * status), a server-streaming one is an async generator yielding them.
 */
export type DynamicHandler = (
  // biome-ignore lint/suspicious/noExplicitAny: the message type comes from a runtime descriptor
  request: any,
  // biome-ignore lint/suspicious/noExplicitAny: unary or streaming call
  call: any,
) => Promise<Record<string, unknown>> | Record<string, unknown> | AsyncIterable<Record<string, unknown>>;

/**
 * Serves a service known only from its descriptor (a test proto built with buf): requests and
 * responses are (de)serialized with protobuf-es, handlers are by RPC name. A handler may throw
 * `{ code, details }` to fail with that gRPC status.
 */
export function registerDescriptorService(
  server: grpc.Server,
  service: DescService,
  handlers: Record<string, DynamicHandler>,
): void {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const implementation: grpc.UntypedServiceImplementation = {};
  for (const method of service.methods) {
    definition[method.name] = {
      path: `/${service.typeName}/${method.name}`,
      requestStream: false,
      responseStream: method.methodKind === "server_streaming",
      requestSerialize: (message: unknown) => Buffer.from(toBinary(method.input, message as never)),
      requestDeserialize: (bytes: Buffer) => fromBinary(method.input, bytes),
      responseSerialize: (message: unknown) =>
        Buffer.from(toBinary(method.output, create(method.output, message as MessageInitShape<typeof method.output>))),
      responseDeserialize: (bytes: Buffer) => fromBinary(method.output, bytes),
    };
    const handler = handlers[method.name];
    if (!handler) continue;
    if (method.methodKind === "server_streaming") {
      const stream = handler as (request: unknown, call: unknown) => AsyncIterable<Record<string, unknown>>;
      implementation[method.name] = ((call: grpc.ServerWritableStream<unknown, unknown>) => {
        void (async () => {
          try {
            for await (const message of stream(call.request, call)) {
              if (call.cancelled) return;
              call.write(message);
            }
            call.end();
          } catch (error) {
            call.emit("error", error);
          }
        })();
      }) as grpc.handleServerStreamingCall<unknown, unknown>;
      continue;
    }
    const unary = handler as (
      request: unknown,
      call: unknown,
    ) => Promise<Record<string, unknown>> | Record<string, unknown>;
    implementation[method.name] = ((
      call: grpc.ServerUnaryCall<unknown, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      Promise.resolve()
        .then(() => unary(call.request, call))
        .then(
          (response) => callback(null, response),
          (error: unknown) => callback(error as grpc.ServiceError),
        );
    }) as grpc.handleUnaryCall<unknown, unknown>;
  }
  server.addService(definition as grpc.ServiceDefinition, implementation);
}
