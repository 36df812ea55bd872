import type {
  CallOptions,
  ClientPolicies,
  Idempotency,
  MethodDefinitionLike,
  ResponseIterable,
  ServiceDefinitionLike,
} from "@agora/service-kit";
import { agoraDescriptors } from "@agora/service-kit";
import type { DescMethod, DescService, Registry } from "@bufbuild/protobuf";

/** Default local ports of the services the gateway calls (ARCHITECTURE.md). */
export const downstreamDefaultPorts = {
  catalog: 50051,
  inventory: 50052,
  order: 50053,
  payment: 50054,
  shipping: 50055,
  identity: 50056,
  notification: 50057,
  "order-history": 50058,
} as const;

/** A downstream service the gateway knows by name. */
export type KnownDownstream = keyof typeof downstreamDefaultPorts;

/** The environment variable holding a downstream's address: "order-history" → "ORDER_HISTORY_ADDR". */
export function addressVariableOf(downstream: string): string {
  return `${downstream.toUpperCase().replaceAll("-", "_")}_ADDR`;
}

/**
 * The downstream serving a proto package: `agora.order.v1` → "order", `agora.orderhistory.v1` →
 * "order-history" (a known service whose name without dashes matches), `agora.foo.v1` → "foo".
 */
export function downstreamOfPackage(protoPackage: string): string {
  const parts = protoPackage.split(".");
  const context = (parts[0] === "agora" ? parts[1] : parts[0]) ?? protoPackage;
  const known = Object.keys(downstreamDefaultPorts).find((name) => name.replaceAll("-", "") === context);
  return known ?? context;
}

/**
 * Parses DOWNSTREAM_ADDRS, the addresses of downstreams without a variable of their own:
 * "name=host:port,other=host:port".
 */
export function parseDownstreamAddresses(text: string): Map<string, string> {
  const addresses = new Map<string, string>();
  for (const entry of text.split(",").map((item) => item.trim())) {
    if (entry === "") continue;
    const match = /^([a-z][a-z0-9-]*)=(\S+:\d{1,5})$/.exec(entry);
    if (!match) throw new Error(`DOWNSTREAM_ADDRS: ${JSON.stringify(entry)} must be name=host:port`);
    addresses.set(match[1] as string, match[2] as string);
  }
  return addresses;
}

/** A function that makes a resilient kit client (the service's `context.client`). */
export type ClientFactory = <D extends ServiceDefinitionLike>(
  definition: D,
  address: string,
  options: { downstream: string; policies?: ClientPolicies },
) => {
  close(): void;
  circuitState(): string;
} & Record<string, unknown>;

type RawUnary = (request: Buffer, options?: CallOptions<Buffer>) => Promise<Buffer>;
type RawServerStream = (request: Buffer, options?: CallOptions<never>) => ResponseIterable<Buffer>;

const identity = (bytes: Buffer): Buffer => bytes;

/** A method the gateway calls, described for a byte-level definition. */
export interface RawMethod {
  /** gRPC path, "/pkg.Service/Method". */
  readonly path: string;
  readonly serverStreaming: boolean;
  readonly idempotency: Idempotency;
}

/**
 * A grpc-js-style service definition whose (de)serializers pass bytes through, so the kit's client
 * (deadlines, retries, breaker, bulkhead) can call any method known only from descriptors.
 */
export function rawServiceDefinition(methods: readonly RawMethod[]): ServiceDefinitionLike {
  const definition: Record<string, MethodDefinitionLike> = {};
  for (const method of methods) {
    const name = method.path.split("/")[2] ?? method.path;
    definition[name] = {
      path: method.path,
      requestStream: false,
      responseStream: method.serverStreaming,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    };
  }
  return definition;
}

/** A method description from a descriptor. */
export function rawMethodOf(rpc: DescMethod): RawMethod {
  const level = rpc.idempotency as number;
  return {
    path: `/${rpc.parent.typeName}/${rpc.name}`,
    serverStreaming: rpc.methodKind === "server_streaming",
    idempotency: level === 1 ? "NO_SIDE_EFFECTS" : level === 2 ? "IDEMPOTENT" : "UNKNOWN",
  };
}

/** Thrown at start when a downstream has no address. */
export class MissingAddressError extends Error {
  constructor(downstream: string, service: string) {
    super(
      `no address for downstream "${downstream}" (serving ${service}): set ${addressVariableOf(downstream)} ` +
        `or DOWNSTREAM_ADDRS=${downstream}=host:port`,
    );
    this.name = "MissingAddressError";
  }
}

/**
 * One byte-level kit client per proto service the gateway calls, created up front from the methods it
 * needs. The downstream (and so the address, breaker and metrics label) follows from the package.
 */
export class DownstreamClients {
  private readonly clients = new Map<string, Record<string, unknown>>();
  private readonly downstreamByService = new Map<string, string>();

  constructor(
    methods: readonly RawMethod[],
    addressOf: (downstream: string) => string | undefined,
    createClient: ClientFactory,
    policies: ClientPolicies = {},
  ) {
    const byService = new Map<string, RawMethod[]>();
    for (const method of methods) {
      const service = method.path.split("/")[1] ?? "";
      const list = byService.get(service) ?? [];
      if (!list.some((known) => known.path === method.path)) list.push(method);
      byService.set(service, list);
    }
    for (const [service, serviceMethods] of byService) {
      const downstream = downstreamOfPackage(service.split(".").slice(0, -1).join("."));
      const address = addressOf(downstream);
      if (!address) throw new MissingAddressError(downstream, service);
      const idempotency = new Map(serviceMethods.map((method) => [method.path, method.idempotency]));
      const client = createClient(rawServiceDefinition(serviceMethods), address, {
        downstream,
        policies: {
          ...policies,
          idempotencyOf: (path) => idempotency.get(path) ?? agoraDescriptors().idempotencyOf(path),
        },
      });
      this.clients.set(service, client);
      this.downstreamByService.set(service, downstream);
    }
  }

  private method(path: string): unknown {
    const [, service = "", name = ""] = path.split("/");
    const client = this.clients.get(service);
    const method = client?.[name];
    if (typeof method !== "function") throw new Error(`no client for ${path}`);
    return method;
  }

  /** Calls a unary method with an encoded request; resolves with the encoded response. */
  unary(path: string, request: Uint8Array, options?: CallOptions<Buffer>): Promise<Buffer> {
    return (this.method(path) as RawUnary)(Buffer.from(request), options);
  }

  /** Starts a server-streaming call; iterate the encoded responses. */
  serverStream(path: string, request: Uint8Array, options?: CallOptions<never>): ResponseIterable<Buffer> {
    return (this.method(path) as RawServerStream)(Buffer.from(request), options);
  }

  /** The downstream name serving a gRPC path ("order"). */
  downstreamOf(path: string): string | undefined {
    return this.downstreamByService.get(path.split("/")[1] ?? "");
  }
}

/** The method of a service in the registry, if both exist. */
export function findMethod(registry: Registry, service: string, method: string): DescMethod | undefined {
  const desc = registry.getService(service) as DescService | undefined;
  return desc?.methods.find((candidate) => candidate.name === method);
}
