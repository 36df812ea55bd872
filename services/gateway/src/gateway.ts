import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { GetJwksResponse } from "@agora/contracts/agora/identity/v1/identity_service";
import {
  DomainError,
  type FaultInjection,
  injectFaults,
  isServiceError,
  type Registry as MetricsRegistry,
  metadataKeys,
  runWithRequestContext,
} from "@agora/service-kit";
import type { DescMessage, Registry } from "@bufbuild/protobuf";
import rateLimit from "@fastify/rate-limit";
import fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from "fastify";
import type { Logger } from "pino";
import {
  AccessTokenVerifier,
  type Authentication,
  authenticate,
  authorize,
  JwksKeyStore,
  type Principal,
} from "./auth";
import { registryFromDescriptorSet } from "./descriptors";
import { type ClientFactory, DownstreamClients, findMethod, type RawMethod, rawMethodOf } from "./downstreams";
import {
  errorBody,
  grpcCodeName,
  HttpError,
  httpErrorFromGrpc,
  httpStatusOfGrpcCode,
  invalidArgument,
  rethrowAsHttpError,
} from "./http-errors";
import { createHttpMetrics } from "./http-metrics";
import { buildOpenApiDocument, type ExtraOperation, type OpenApiObject } from "./openapi";
import { type PathTemplate, parsePathTemplate } from "./path-template";
import { grpcProductLookups, ProductComposer, productOperation } from "./product-details";
import { encodeRequest, requestJsonOf, responseJsonOf } from "./request-mapping";
import { type Access, type HttpRoute, RouteDefinitionError, routesFromRegistry } from "./route-table";
import { bridgeToSse, type SseStream } from "./server-sent-events";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Route as written in proto/ ("/v1/orders/{order_id}"): the metrics and log label. */
    routeTemplate?: string;
    /** Who may call the route; undefined for operational endpoints (no authentication). */
    access?: Access;
  }
}

/** Everything the gateway needs; main.ts fills it from the kit's setup context and config. */
export interface GatewayOptions {
  /** The compiled FileDescriptorSet the routes are generated from. */
  descriptorSet: Uint8Array;
  /** Address of a downstream by name ("order" → ORDER_ADDR). */
  addressOf(downstream: string): string | undefined;
  /** Makes a resilient kit client (the setup context's `client`). */
  createClient: ClientFactory;
  logger: Logger;
  /** The kit's metrics registry (served on the metrics port). */
  metricsRegistry: MetricsRegistry;
  /** The kit's readiness: true from start until shutdown begins. */
  isServing(): boolean;
  host: string;
  port: number;
  version: string;
  /** fastify's trustProxy: whether X-Forwarded-For names the client. */
  trustProxy: boolean | string[] | ((address: string, hop: number) => boolean);
  bodyLimitBytes: number;
  /** Requests per client per window; 0 disables rate limiting. */
  rateLimit: { max: number; windowMs: number };
  downstreamTimeoutMs: number;
  stockTimeoutMs: number;
  sseHeartbeatMs: number;
  jwks: { minRefreshIntervalMs: number; maxAgeMs: number };
  /** Bound on waiting for in-flight requests at shutdown. */
  shutdownTimeoutMs: number;
  /**
   * The kit's FAULT_ERROR_RATE / FAULT_DELAY_MS (canary demos): applied to every API request, as the
   * kit applies them to every gRPC call; never to /healthz, /readyz or /openapi.json.
   */
  faults?: FaultInjection;
}

/** A running (or ready to run) gateway. */
export interface Gateway {
  /** The routes generated from the descriptors. */
  readonly routes: readonly HttpRoute[];
  /** The OpenAPI 3.1 document served at /openapi.json. */
  readonly openApiDocument: OpenApiObject;
  /** The fastify instance (for inject() in unit tests). */
  readonly app: FastifyInstance;
  /** Listens on host:port; resolves with the bound port. */
  start(): Promise<number>;
  /** Stops taking requests, ends event streams (clients reconnect), drains in-flight requests. */
  stop(): Promise<void>;
}

const getJwksPath = "/agora.identity.v1.IdentityService/GetJwks";
const productRouteTemplate = "/v1/products/{product_id}";

/**
 * Every gRPC method the gateway calls, from the descriptors it serves: the RPC behind each HTTP route,
 * identity's GetJwks (token verification) and, when both exist, catalog's GetProduct and inventory's
 * GetStock (the composed product route). The gateway makes clients for exactly these; the chart's
 * authorization policies are checked against this list (tools/deploy-verify).
 */
export function downstreamMethods(registry: Registry): RawMethod[] {
  const methods: RawMethod[] = routesFromRegistry(registry).map((route) => rawMethodOf(route.rpc));
  methods.push({ path: getJwksPath, serverStreaming: false, idempotency: "NO_SIDE_EFFECTS" });
  const getProduct = findMethod(registry, "agora.catalog.v1.CatalogService", "GetProduct");
  const getStock = findMethod(registry, "agora.inventory.v1.InventoryService", "GetStock");
  if (getProduct && getStock) methods.push(rawMethodOf(getProduct), rawMethodOf(getStock));
  return methods;
}

/** A request id from the x-request-id header when it is sane, else a new UUID. */
export function requestIdOf(request: IncomingMessage): string {
  const given = request.headers["x-request-id"];
  return typeof given === "string" && /^[A-Za-z0-9._:@/+=-]{1,128}$/.test(given) ? given : randomUUID();
}

/** Maps anything thrown while handling a request to the error the client sees. */
export function toHttpError(
  error: unknown,
  requestId: string,
  logger: { error(fields: object, message: string): void },
): HttpError {
  if (error instanceof HttpError) return error;
  if (isServiceError(error)) return httpErrorFromGrpc(error);
  const fastifyError = error as { code?: string; statusCode?: number; message?: string };
  switch (fastifyError.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return invalidArgument("request body: not valid JSON");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return invalidArgument("request body: empty, but Content-Type says application/json");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new HttpError(415, "UNSUPPORTED_MEDIA_TYPE", "request body must be application/json");
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new HttpError(413, "PAYLOAD_TOO_LARGE", "request body is too large");
  }
  if (error instanceof SyntaxError && fastifyError.statusCode === 400) {
    return invalidArgument(`request body: not valid JSON (${error.message})`);
  }
  if (typeof fastifyError.statusCode === "number" && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new HttpError(fastifyError.statusCode, "INVALID_ARGUMENT", fastifyError.message ?? "bad request");
  }
  logger.error({ err: error, request_id: requestId }, "unexpected error in the gateway");
  return new HttpError(500, "INTERNAL", `internal error (request id ${requestId}); the gateway logged the details`);
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  if (Array.isArray(value)) throw invalidArgument(`${name} header: given more than once`);
  return value;
}

/** Headers copied onto downstream calls: canary routing (Istio) and B3/W3C trace context. */
const propagatedHeaders = [
  "x-agora-canary",
  "traceparent",
  "tracestate",
  "x-b3-traceid",
  "x-b3-spanid",
  "x-b3-parentspanid",
  "x-b3-sampled",
  "x-b3-flags",
];

/** gRPC metadata of a downstream call: request id, correlation id, the customer and roles. */
export function downstreamMetadata(request: FastifyRequest, principal: Principal | undefined): Record<string, string> {
  const metadata: Record<string, string> = {
    [metadataKeys.requestId]: request.id,
    [metadataKeys.correlationId]: request.id,
  };
  for (const name of propagatedHeaders) {
    const value = request.headers[name];
    if (typeof value === "string" && value !== "") metadata[name] = value;
  }
  if (principal) {
    metadata[metadataKeys.customerId] = principal.customerId;
    metadata["x-agora-roles"] = principal.roles.join(",");
  }
  return metadata;
}

/** Aborted when the client goes away before its response is complete. */
function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once("close", () => {
    if (!reply.raw.writableFinished) controller.abort(new Error("client disconnected"));
  });
  return controller.signal;
}

function message(registry: Registry, typeName: string): DescMessage {
  const found = registry.getMessage(typeName);
  if (!found) throw new Error(`${typeName} is not in the descriptor set`);
  return found;
}

/**
 * Builds the gateway: routes and OpenAPI from the descriptors, one byte-level kit client per service
 * called, JWT authentication against identity's JWKS, per-client rate limits, the composed product
 * route, health endpoints and HTTP metrics. Throws at once for annotations it cannot serve.
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const logger = options.logger;
  const registry = registryFromDescriptorSet(options.descriptorSet);
  const routes = routesFromRegistry(registry);

  const getProduct = findMethod(registry, "agora.catalog.v1.CatalogService", "GetProduct");
  const getStock = findMethod(registry, "agora.inventory.v1.InventoryService", "GetStock");
  const composeProducts = getProduct !== undefined && getStock !== undefined;
  if (!composeProducts)
    logger.info("catalog or inventory is not in the descriptor set: no GET /v1/products/{product_id}");
  const productTemplate = parsePathTemplate(productRouteTemplate);
  const clash = routes.find(
    (route) => route.method === "GET" && route.path.fastifyPath === productTemplate.fastifyPath,
  );
  if (composeProducts && clash) {
    throw new RouteDefinitionError(clash.rpc, `GET ${clash.path.template} clashes with the composed product route`);
  }

  const clients = new DownstreamClients(downstreamMethods(registry), options.addressOf, options.createClient, {
    timeoutMs: options.downstreamTimeoutMs,
  });

  const keyStore = new JwksKeyStore({
    logger,
    minRefreshIntervalMs: options.jwks.minRefreshIntervalMs,
    maxAgeMs: options.jwks.maxAgeMs,
    fetchKeys: async () => {
      const bytes = await clients.unary(getJwksPath, new Uint8Array(), { timeoutMs: 3_000 });
      return GetJwksResponse.decode(bytes).keys;
    },
  });
  const verifier = new AccessTokenVerifier(keyStore);

  const metrics = createHttpMetrics(options.metricsRegistry);
  const authentications = new WeakMap<FastifyRequest, Authentication>();
  const openStreams = new Set<SseStream>();

  const app = fastify({
    loggerInstance: logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: "request_id" }),
    genReqId: requestIdOf,
    trustProxy: options.trustProxy,
    bodyLimit: options.bodyLimitBytes,
    return503OnClosing: true,
    forceCloseConnections: "idle",
  });

  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
    const access = request.routeOptions.config.access;
    if (access === undefined) return;
    authentications.set(request, await authenticate(verifier, request.headers.authorization));
  });

  // The faulty build of a canary demo, as the kit injects it into gRPC calls: after authentication,
  // before the route's work; operational endpoints stay healthy so the pod keeps running.
  const faults = options.faults;
  if (faults && (faults.errorRate > 0 || faults.delayMs > 0)) {
    app.addHook("preHandler", async (request) => {
      if (request.routeOptions.config.routeTemplate === undefined) return;
      await injectFaults(faults).catch((error: unknown) => {
        if (!(error instanceof DomainError)) throw error;
        throw new HttpError(
          httpStatusOfGrpcCode(error.code),
          grpcCodeName(error.code),
          error.message,
          {},
          { cause: error },
        );
      });
    });
  }

  app.addHook("onResponse", async (request, reply) => {
    const route =
      request.routeOptions.config.routeTemplate ?? (request.routeOptions.url ? request.routeOptions.url : "unmatched");
    const labels = { method: request.method, route, status: String(reply.statusCode) };
    metrics.requests.inc(labels);
    metrics.duration.observe(labels, reply.elapsedTime / 1000);
    const authentication = authentications.get(request);
    const line = {
      method: request.method,
      route,
      url: request.url,
      status: reply.statusCode,
      duration_ms: Math.round(reply.elapsedTime * 10) / 10,
      ...(authentication?.kind === "authenticated" ? { customer_id: authentication.principal.customerId } : {}),
    };
    if (route === "/healthz" || route === "/readyz") request.log.debug(line, "request completed");
    else request.log.info(line, "request completed");
  });

  app.setErrorHandler((error, request, reply) => {
    const failure = toHttpError(error, request.id, request.log);
    if (failure.status >= 500) {
      const cause = failure.cause ?? error;
      const details = isServiceError(cause) ? { grpc_code: cause.code, grpc_details: cause.details } : {};
      request.log.warn({ code: failure.code, message: failure.message, ...details }, "request failed");
    }
    void reply.code(failure.status).headers(failure.headers).send(errorBody(failure, request.id));
  });

  const knownPaths: Array<{ template: PathTemplate; method: string }> = [];
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0] ?? "/";
    const allowed = [
      ...new Set(knownPaths.filter((known) => known.template.pattern.test(path)).map((known) => known.method)),
    ];
    if (allowed.length > 0) {
      const failure = new HttpError(
        405,
        "METHOD_NOT_ALLOWED",
        `${request.method} is not allowed on ${path}; use ${allowed.join(", ")}`,
        {
          allow: allowed.join(", "),
        },
      );
      void reply.code(405).headers(failure.headers).send(errorBody(failure, request.id));
      return;
    }
    const failure = new HttpError(404, "NOT_FOUND", `no route for ${request.method} ${path} (see GET /openapi.json)`);
    void reply.code(404).send(errorBody(failure, request.id));
  });

  if (options.rateLimit.max > 0) {
    await app.register(rateLimit, {
      global: true,
      max: options.rateLimit.max,
      timeWindow: options.rateLimit.windowMs,
      keyGenerator: (request) => {
        const authentication = authentications.get(request);
        return authentication?.kind === "authenticated"
          ? `customer:${authentication.principal.customerId}`
          : `ip:${request.ip}`;
      },
      errorResponseBuilder: (_request, context) =>
        new HttpError(
          429,
          "RESOURCE_EXHAUSTED",
          `rate limit of ${context.max} requests per ${options.rateLimit.windowMs / 1000} s exceeded; retry in ${context.after}`,
        ),
    });
  }

  const operational = { config: { rateLimit: false as const } };
  for (const probe of ["/healthz", "/readyz"]) {
    const template = parsePathTemplate(probe);
    knownPaths.push({ template, method: "GET" }, { template, method: "HEAD" });
  }
  app.get("/healthz", operational, async () => ({ status: "alive" }));
  app.get("/readyz", operational, async (_request, reply) => {
    if (options.isServing()) return { status: "serving" };
    return reply.code(503).send({ status: "not serving" });
  });

  for (const route of routes) {
    knownPaths.push({ template: route.path, method: route.method });
    if (route.method === "GET" && !route.serverStreaming) knownPaths.push({ template: route.path, method: "HEAD" });
    app.route({
      method: route.method,
      url: route.path.fastifyPath,
      config: { routeTemplate: route.path.template, access: route.access },
      // HEAD on an event stream would open a stream nobody reads.
      exposeHeadRoute: !route.serverStreaming,
      handler: (request, reply) =>
        runWithRequestContext({ correlationId: request.id }, () => handleRoute(route, request, reply)),
    });
  }

  async function handleRoute(route: HttpRoute, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const principal = authorize(route.access, authentications.get(request) ?? { kind: "anonymous" });
    const idempotencyKey = route.idempotencyKeyField ? headerValue(request, "idempotency-key") : undefined;
    const json = requestJsonOf(route, {
      params: request.params as Record<string, string>,
      query: request.query as Record<string, string | string[] | undefined>,
      body: request.body,
      ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
      ...(principal ? { customerId: principal.customerId } : {}),
    });
    const requestBytes = encodeRequest(route.rpc.input, json, registry);
    const metadata = downstreamMetadata(request, principal);
    const signal = clientGone(reply);
    if (route.serverStreaming) {
      const call = clients.serverStream(route.grpcPath, requestBytes, {
        metadata,
        signal,
        timeoutMs: Number.POSITIVE_INFINITY,
      });
      const stream = await bridgeToSse(call, {
        toJson: (bytes) => responseJsonOf(route.rpc.output, bytes, registry),
        errorBody: (error) => errorBody(error, request.id),
        downstream: clients.downstreamOf(route.grpcPath) ?? "a service",
        heartbeatMs: options.sseHeartbeatMs,
        firstMessageWaitMs: 1_000,
      });
      openStreams.add(stream);
      metrics.openStreams.inc({ route: route.path.template });
      void stream.done.then(() => {
        openStreams.delete(stream);
        metrics.openStreams.dec({ route: route.path.template });
      });
      return reply
        .code(route.successStatus)
        .headers({
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache, no-transform",
          "x-accel-buffering": "no",
        })
        .send(stream.body);
    }
    const responseBytes = await clients
      .unary(route.grpcPath, requestBytes, { metadata, signal })
      .catch(rethrowAsHttpError(clients.downstreamOf(route.grpcPath)));
    let body: unknown;
    try {
      body = responseJsonOf(route.rpc.output, responseBytes, registry);
    } catch (error) {
      throw new HttpError(502, "INTERNAL", "the service sent a response the gateway cannot read", {}, { cause: error });
    }
    return reply.code(route.successStatus).send(body);
  }

  const extraOperations: ExtraOperation[] = [];
  if (getProduct && getStock) {
    const productMessage = message(registry, "agora.catalog.v1.Product");
    const composer = new ProductComposer(
      grpcProductLookups({ clients, registry, getProduct, getStock, stockTimeoutMs: options.stockTimeoutMs }),
      logger,
    );
    knownPaths.push({ template: productTemplate, method: "GET" }, { template: productTemplate, method: "HEAD" });
    app.get(
      productTemplate.fastifyPath,
      { config: { routeTemplate: productRouteTemplate, access: "public" } },
      async (request, reply) => {
        const principal = authorize("public", authentications.get(request) ?? { kind: "anonymous" });
        const { product_id: productId = "" } = request.params as { product_id?: string };
        const unknown = Object.keys(request.query as object);
        if (unknown.length > 0) throw invalidArgument(`${unknown[0]}: unknown query parameter`);
        const metadata = downstreamMetadata(request, principal);
        return reply.send(
          await runWithRequestContext({ correlationId: request.id }, () => composer.details(productId, metadata)),
        );
      },
    );
    extraOperations.push(productOperation(productMessage, productRouteTemplate));
  }

  const openApiDocument = buildOpenApiDocument({ routes, extraOperations, version: options.version });
  const openApiPath = parsePathTemplate("/openapi.json");
  knownPaths.push({ template: openApiPath, method: "GET" }, { template: openApiPath, method: "HEAD" });
  app.get("/openapi.json", async (_request, reply) =>
    reply.header("cache-control", "public, max-age=60").send(openApiDocument),
  );

  return {
    routes,
    openApiDocument,
    app,
    async start() {
      void keyStore.refresh(true);
      await app.listen({ host: options.host, port: options.port });
      const port = (app.server.address() as AddressInfo).port;
      logger.info({ http_port: port, routes: routes.length }, `HTTP API on ${options.host}:${port}`);
      return port;
    },
    async stop() {
      for (const stream of openStreams) stream.abort();
      // Keep-alive connections whose in-flight request finishes during the drain become idle only
      // then: close them as they do, and everything once the drain takes too long.
      const closeIdle = setInterval(() => app.server.closeIdleConnections(), 100);
      const force = setTimeout(() => app.server.closeAllConnections(), options.shutdownTimeoutMs);
      force.unref();
      try {
        await app.close();
      } finally {
        clearInterval(closeIdle);
        clearTimeout(force);
      }
    },
  };
}
