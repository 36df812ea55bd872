import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

type HealthClient = grpc.Client & {
  Check(
    request: { service: string },
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, response?: { status: string }) => void,
  ): void;
};

let HealthConstructor: grpc.ServiceClientConstructor | undefined;

function healthConstructor(): grpc.ServiceClientConstructor {
  if (!HealthConstructor) {
    const definition = protoLoader.loadSync(require.resolve("grpc-health-check/proto/health/v1/health.proto"), {
      enums: String,
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
    };
    HealthConstructor = loaded.grpc.health.v1.Health;
  }
  return HealthConstructor;
}

/**
 * Asks a server's grpc.health.v1.Health/Check for `service` ("" = the whole server). Resolves the
 * status name ("SERVING", "NOT_SERVING", …); rejects with the gRPC error when it cannot be asked.
 */
export async function checkHealth(address: string, service = "", timeoutMs = 2000): Promise<string> {
  const Health = healthConstructor();
  const client = new Health(address, grpc.credentials.createInsecure()) as unknown as HealthClient;
  try {
    return await new Promise<string>((resolve, reject) => {
      client.Check({ service }, { deadline: new Date(Date.now() + timeoutMs) }, (error, response) =>
        error ? reject(error) : resolve(response?.status ?? "UNKNOWN"),
      );
    });
  } finally {
    client.close();
  }
}
