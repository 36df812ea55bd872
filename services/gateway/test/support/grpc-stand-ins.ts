import { type GetJwksResponse, IdentityServiceService } from "@agora/contracts/agora/identity/v1/identity_service";
import * as grpc from "@grpc/grpc-js";
import type { PublishedKey } from "../../src/auth";

/** A gRPC server started for a test on a free port. */
export interface StandInServer {
  readonly address: string;
  readonly port: number;
  /** Stops at once (in-flight calls fail). */
  stop(): Promise<void>;
}

/** Starts a grpc-js server on 127.0.0.1 with the services `register` adds (port 0 = any free port). */
export async function startGrpcServer(register: (server: grpc.Server) => void, port = 0): Promise<StandInServer> {
  const server = new grpc.Server();
  register(server);
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, actual) =>
      error ? reject(error) : resolve(actual),
    ),
  );
  return {
    address: `127.0.0.1:${bound}`,
    port: bound,
    stop: async () => {
      server.forceShutdown();
    },
  };
}

/** The metadata values of one key, as strings. */
export function metadataValue(metadata: grpc.Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return value === undefined ? undefined : String(value);
}

/**
 * A stand-in for identity's GetJwks (the real identity service is written concurrently): serves the
 * public keys `keys()` returns and counts the calls. Every other identity RPC is UNIMPLEMENTED.
 */
export function registerJwksStandIn(
  server: grpc.Server,
  keys: () => PublishedKey[],
  calls: { count: number } = { count: 0 },
): { count: number } {
  server.addService(IdentityServiceService, {
    getJwks: (_call: grpc.ServerUnaryCall<unknown, GetJwksResponse>, callback: grpc.sendUnaryData<GetJwksResponse>) => {
      calls.count++;
      callback(null, { keys: keys() });
    },
  } as unknown as grpc.UntypedServiceImplementation);
  return calls;
}
