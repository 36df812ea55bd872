import { descriptorSetBytes } from "@agora/contracts";
import { registryFromDescriptorSet } from "../../../services/gateway/src/descriptors";
import { downstreamMethods as gatewayDownstreamMethods } from "../../../services/gateway/src/gateway";
import { serviceClientCalls } from "../src/client-calls";
import { type Manifest, ofKind, render } from "../src/helm";
import { isAllowed } from "../src/mesh";
import { profiles } from "../src/profiles";
import { loadProtoServices } from "../src/proto";
import { addrEnv, loadChartValues, mainPort } from "../src/values";

const values = loadChartValues();
const services = Object.keys(values.services).sort();
const grpcServices = services.filter((s) => values.services[s]?.grpcPort !== undefined);
const rendered = new Map<string, Manifest[]>(profiles.map((p) => [p.name, render(p)]));
const proto = loadProtoServices();

// biome-ignore lint/suspicious/noExplicitAny: containers come from rendered YAML.
type Container = any;
const containerOf = (d: Manifest): Container => d.spec.template.spec.containers[0];
const envOf = (c: Container): Record<string, string | undefined> =>
  Object.fromEntries((c.env ?? []).map((e: { name: string; value?: string }) => [e.name, e.value]));
const appDeployments = (docs: Manifest[]): Manifest[] =>
  ofKind(docs, "Deployment").filter((d) => services.includes(d.metadata.labels?.app ?? ""));

/**
 * The graph the code really uses, independent of values.yaml: every kit-client method each service's
 * sources call (read with the type checker), and the gateway's downstream methods as the gateway itself
 * derives them from the descriptor set it serves. Keyed caller → callee (chart service name) → methods.
 */
function graphFromCode(): Record<string, Record<string, string[]>> {
  const byProto = new Map(services.map((s) => [values.services[s]?.grpcService, s]));
  const graph: Record<string, Record<string, string[]>> = {};
  const add = (caller: string, path: string, at: string) => {
    const [, protoService, method] = path.split("/") as [string, string, string];
    const callee = byProto.get(protoService);
    if (!callee) throw new Error(`${at}: ${caller} calls ${path}, which no service of the chart serves`);
    const callees = graph[caller] ?? {};
    graph[caller] = callees;
    const methods = callees[callee] ?? [];
    callees[callee] = methods;
    if (!methods.includes(method)) methods.push(method);
  };
  for (const [caller, calls] of serviceClientCalls()) for (const c of calls) add(caller, c.path, c.at);
  const gatewayRegistry = registryFromDescriptorSet(descriptorSetBytes());
  for (const m of gatewayDownstreamMethods(gatewayRegistry)) add("gateway", m.path, "services/gateway");
  for (const callees of Object.values(graph)) for (const methods of Object.values(callees)) methods.sort();
  return graph;
}
const codeGraph = graphFromCode();

describe.each(profiles.map((p) => [p.name, p] as const))("profile %s", (name, profile) => {
  const docs = rendered.get(name) as Manifest[];

  test("every service has its Deployment, own ServiceAccount, PodDisruptionBudget and (unless Flagger) a Service", () => {
    for (const s of services) {
      const d = docs.find((x) => x.kind === "Deployment" && x.metadata.name === s) as Manifest;
      expect(d).toBeDefined();
      expect(d.metadata.labels).toEqual(expect.objectContaining({ app: s, version: "v1" }));
      expect(d.spec.template.spec.serviceAccountName).toBe(s);
      expect(docs.some((x) => x.kind === "ServiceAccount" && x.metadata.name === s)).toBe(true);
      expect(docs.some((x) => x.kind === "PodDisruptionBudget" && x.metadata.name === s)).toBe(true);
    }
  });

  test("every gRPC Service port is named grpc* with appProtocol grpc, on the service's port", () => {
    for (const svc of ofKind(docs, "Service")) {
      for (const port of svc.spec.ports) {
        if (port.appProtocol === "grpc" || port.targetPort === "grpc") {
          expect(port.name).toMatch(/^grpc/);
          expect(port.appProtocol).toBe("grpc");
        }
      }
      const app = svc.metadata.name;
      if (grpcServices.includes(app)) {
        const grpc = svc.spec.ports.find((p: { name: string }) => p.name === "grpc");
        expect(grpc?.port).toBe(values.services[app]?.grpcPort);
        expect(svc.spec.ports.find((p: { name: string }) => p.name === "http-metrics")?.port).toBe(
          values.services[app]?.metricsPort,
        );
      }
    }
  });

  test("probes target the health port: native gRPC probes on GRPC_PORT, HTTP /readyz and /healthz on the gateway", () => {
    for (const d of appDeployments(docs)) {
      const app = d.metadata.labels?.app as string;
      const c = containerOf(d);
      const env = envOf(c);
      if (values.services[app]?.grpcPort !== undefined) {
        const port = Number(env.GRPC_PORT);
        expect(port).toBe(values.services[app]?.grpcPort);
        expect(c.ports.find((p: { name: string }) => p.name === "grpc").containerPort).toBe(port);
        for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
          expect(probe.grpc).toEqual({ port, service: "" });
        }
      } else {
        expect(Number(env.HTTP_PORT)).toBe(values.services[app]?.httpPort);
        expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "http" });
        expect(c.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "http" });
      }
      expect(Number(env.METRICS_PORT)).toBe(values.services[app]?.metricsPort);
      expect(d.spec.template.metadata.annotations["prometheus.io/port"]).toBe(env.METRICS_PORT);
    }
  });

  test("env follows the runtime contract: addresses from the graph, database and NATS where needed", () => {
    for (const d of appDeployments(docs)) {
      const app = d.metadata.labels?.app as string;
      const sv = values.services[app];
      const c = containerOf(d);
      const env = envOf(c);
      const names = (c.env as { name: string }[]).map((e) => e.name);
      const expectedAddrs = Object.keys(sv?.calls ?? {})
        .map(addrEnv)
        .sort();
      expect(names.filter((n) => n.endsWith("_ADDR")).sort()).toEqual(expectedAddrs);
      for (const callee of Object.keys(sv?.calls ?? {})) {
        expect(env[addrEnv(callee)]).toBe(`${callee}:${mainPort(values.services[callee] as never)}`);
      }
      expect(names.includes("DATABASE_URL")).toBe(Boolean(sv?.database));
      expect(names.includes("NATS_URL")).toBe(Boolean(sv?.nats));
      if (sv?.database)
        expect(env.DATABASE_URL).toMatch(/^postgres:\/\/\$\(DB_USER\):\$\(DB_PASSWORD\)@[^/]+\/\w+\?sslmode=/);
      const version = c.env.find((e: { name: string }) => e.name === "SERVICE_VERSION");
      expect(version.valueFrom.fieldRef.fieldPath).toBe("metadata.labels['version']");
      expect(d.spec.template.metadata.labels.version).toBe(d.metadata.labels?.version);
    }
  });

  test("shutdown is consistent: grace period covers preStop + SHUTDOWN_DELAY_MS + SHUTDOWN_TIMEOUT_MS", () => {
    for (const d of appDeployments(docs)) {
      const c = containerOf(d);
      const env = envOf(c);
      const preStop = c.lifecycle.preStop.sleep.seconds as number;
      const drainMs = Number(env.SHUTDOWN_DELAY_MS) + Number(env.SHUTDOWN_TIMEOUT_MS);
      expect(preStop).toBeGreaterThan(0);
      expect(d.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(preStop * 1000 + drainMs);
      if (profile.istio) {
        const cfg = JSON.parse(d.spec.template.metadata.annotations["proxy.istio.io/config"]);
        expect(cfg.holdApplicationUntilProxyStarts).toBe(true);
        expect(Number.parseInt(cfg.terminationDrainDuration, 10) * 1000).toBeGreaterThanOrEqual(
          preStop * 1000 + drainMs,
        );
      }
    }
  });

  test("every pod runs non-root with a read-only root filesystem and a writable /tmp where apps need it", () => {
    const workloads = [...ofKind(docs, "Deployment"), ...ofKind(docs, "StatefulSet"), ...ofKind(docs, "Job")];
    const pods = [...workloads.map((w) => w.spec.template.spec), ...ofKind(docs, "Pod").map((p) => p.spec)];
    expect(pods.length).toBeGreaterThan(services.length);
    for (const pod of pods) {
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      for (const c of pod.containers) {
        expect(c.securityContext).toEqual(
          expect.objectContaining({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true }),
        );
        expect(c.securityContext.capabilities.drop).toEqual(["ALL"]);
        expect(c.resources?.requests).toBeDefined();
      }
    }
    for (const d of appDeployments(docs)) {
      expect(containerOf(d).volumeMounts).toEqual(expect.arrayContaining([{ name: "tmp", mountPath: "/tmp" }]));
    }
  });

  test("canary Deployments carry their own version label and image tag", () => {
    for (const d of appDeployments(docs).filter((x) => x.metadata.labels?.version !== "v1")) {
      const app = d.metadata.labels?.app as string;
      const stable = docs.find((x) => x.kind === "Deployment" && x.metadata.name === app) as Manifest;
      expect(d.metadata.name).toBe(`${app}-${d.metadata.labels?.version}`);
      expect(d.spec.selector.matchLabels).toEqual({ app, version: d.metadata.labels?.version });
      expect(containerOf(d).image).not.toBe(containerOf(stable).image);
    }
  });
});

describe.each(profiles.filter((p) => p.istio).map((p) => [p.name, p] as const))("Istio profile %s", (name, profile) => {
  const docs = rendered.get(name) as Manifest[];
  const ns = profile.namespace ?? "agora";
  const trust = values.istio.trustDomain;
  const principal = (sa: string): string => `${trust}/ns/${ns}/sa/${sa}`;
  const policies = ofKind(docs, "AuthorizationPolicy");
  const accounts = ofKind(docs, "ServiceAccount").map((s) => s.metadata.name);

  test("STRICT mTLS and a deny-all policy", () => {
    expect(ofKind(docs, "PeerAuthentication").map((p) => p.spec.mtls.mode)).toEqual(["STRICT"]);
    expect(policies.find((p) => p.metadata.name === "deny-all")?.spec).toEqual({});
  });

  test("every AuthorizationPolicy principal is a rendered ServiceAccount (or a declared ingress principal)", () => {
    const principals = policies.flatMap((p) =>
      (p.spec.rules ?? []).flatMap((r: { from?: { source: { principals?: string[] } }[] }) =>
        (r.from ?? []).flatMap((f) => f.source.principals ?? []),
      ),
    );
    expect(principals.length).toBeGreaterThan(10);
    for (const p of principals) {
      if (values.istio.ingress.principals.includes(p)) continue;
      const m = /^(.+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(p);
      expect(m?.[1]).toBe(trust);
      expect(m?.[2]).toBe(ns);
      expect(accounts).toContain(m?.[3]);
    }
  });

  test("the calls allowed in the mesh are exactly the calls the code makes (no missing, no extra)", () => {
    const allPaths = [...proto.flatMap((s) => s.methods.map((m) => m.path)), "/grpc.health.v1.Health/Check"];
    const callers = [...accounts, ...values.istio.ingress.principals];
    const problems: string[] = [];
    for (const dest of grpcServices) {
      const sv = values.services[dest];
      const destProto = proto.find((p) => p.fullName === sv?.grpcService);
      for (const caller of callers) {
        const p = caller.includes("/") ? caller : principal(caller);
        for (const path of allPaths) {
          const allowed = isAllowed(policies, {
            principal: p,
            namespace: ns,
            workloadLabels: { app: dest, "agora.dev/service": dest, version: "v1" },
            path,
            method: "POST",
            port: sv?.grpcPort as number,
          });
          const method = path.split("/")[2] as string;
          const inGraph =
            destProto?.methods.some((m) => m.path === path) === true &&
            (codeGraph[caller]?.[dest] ?? []).includes(method);
          const health = caller === "agora-tests" && path === "/grpc.health.v1.Health/Check";
          if (allowed !== (inGraph || health)) problems.push(`${caller} → ${dest} ${path}: allowed=${allowed}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  test("the HTTP gateway is reachable from the ingress (and loadgen) only; NATS and Postgres from their clients only", () => {
    const gw = values.services.gateway;
    const at = (sa: string, app: string, port: number, path = "/v1/products") =>
      isAllowed(policies, {
        principal: sa.includes("/") ? sa : principal(sa),
        namespace: ns,
        workloadLabels: { app, "agora.dev/service": app },
        path,
        method: "GET",
        port,
      });
    for (const ingress of values.istio.ingress.principals)
      expect(at(ingress, "gateway", gw?.httpPort as number)).toBe(true);
    expect(at("order", "gateway", gw?.httpPort as number)).toBe(false);
    expect(at("agora-tests", "gateway", gw?.httpPort as number, "/readyz")).toBe(true);
    expect(at("agora-tests", "gateway", gw?.httpPort as number, "/v1/orders")).toBe(false);
    const hasNats = docs.some((d) => d.kind === "StatefulSet" && d.metadata.name === "nats");
    const hasPg = docs.some((d) => d.kind === "StatefulSet" && d.metadata.name === "postgres");
    for (const s of services) {
      if (hasNats) expect(at(s, "nats", 4222)).toBe(Boolean(values.services[s]?.nats));
      if (hasPg) expect(at(s, "postgres", 5432)).toBe(Boolean(values.services[s]?.database));
    }
  });

  test("DestinationRule subsets match Deployment labels, with ISTIO_MUTUAL, pools and outlier detection", () => {
    for (const dr of ofKind(docs, "DestinationRule")) {
      const app = dr.metadata.name;
      expect(dr.spec.host).toBe(`${app}.${ns}.svc.cluster.local`);
      expect(dr.spec.trafficPolicy.tls.mode).toBe("ISTIO_MUTUAL");
      expect(dr.spec.trafficPolicy.connectionPool.tcp.maxConnections).toBeGreaterThan(0);
      expect(dr.spec.trafficPolicy.outlierDetection.consecutive5xxErrors).toBeGreaterThan(0);
      const versions = appDeployments(docs)
        .filter((d) => d.metadata.labels?.app === app)
        .map((d) => d.spec.template.metadata.labels.version)
        .sort();
      expect(dr.spec.subsets.map((s: { name: string }) => s.name).sort()).toEqual(versions);
      for (const subset of dr.spec.subsets) expect(subset.labels).toEqual({ version: subset.name });
    }
  });

  test("VirtualService weights sum to 100, subsets exist, mesh retries never multiply the kit's", () => {
    for (const vs of ofKind(docs, "VirtualService")) {
      const app = vs.metadata.labels?.app;
      const dr = docs.find((d) => d.kind === "DestinationRule" && d.metadata.name === app) as Manifest;
      const subsets = dr.spec.subsets.map((s: { name: string }) => s.name);
      for (const route of vs.spec.http) {
        const weights = route.route.map((r: { weight?: number }) => r.weight ?? (route.route.length === 1 ? 100 : 0));
        expect(weights.reduce((a: number, b: number) => a + b, 0)).toBe(100);
        for (const r of route.route) expect(subsets).toContain(r.destination.subset);
        expect(route.retries.attempts).toBeLessThanOrEqual(1);
        if (route.retries.attempts > 0) {
          expect(route.retries.retryOn.split(",").sort()).toEqual(["connect-failure", "refused-stream"]);
        }
        expect(route.timeout).toBeDefined();
      }
      const header = vs.spec.http.find((r: { name: string }) => r.name === "canary-header");
      if (subsets.length > 1) {
        expect(header.match).toEqual([{ headers: { "x-agora-canary": { exact: "v2" } } }]);
        expect(header.route).toEqual([
          expect.objectContaining({ weight: 100, destination: expect.objectContaining({ subset: "v2" }) }),
        ]);
      } else {
        expect(header).toBeUndefined();
      }
    }
  });

  test("the ingress Gateway routes to the HTTP gateway: the chart's VirtualService, or Flagger's when it owns the gateway", () => {
    const gw = ofKind(docs, "Gateway");
    expect(gw).toHaveLength(1);
    const ingressHosts = gw[0]?.spec.servers[0].hosts as string[];
    const routes = ofKind(docs, "VirtualService").filter((v) => (v.spec.gateways ?? []).includes("agora-ingress"));
    const flaggerRoutes = ofKind(docs, "Canary").filter((c) =>
      (c.spec.service.gateways ?? []).includes("agora-ingress"),
    );
    expect(routes.length + flaggerRoutes.length).toBe(1);
    const host = `gateway.${ns}.svc.cluster.local`;
    for (const vs of routes) {
      expect(vs.spec.hosts).toEqual(ingressHosts);
      for (const route of vs.spec.http) {
        for (const r of route.route) expect(r.destination.host).toBe(host);
      }
    }
    for (const canary of flaggerRoutes) {
      // Flagger's VirtualService serves the ingress and the mesh with the same weights, under the
      // ingress host names (never "*", which Istio rejects on a mesh-bound VirtualService).
      expect(canary.spec.targetRef.name).toBe("gateway");
      expect(canary.spec.service.gateways).toEqual(["agora-ingress", "mesh"]);
      expect(canary.spec.service.hosts).toEqual(ingressHosts);
      expect(ingressHosts).not.toContain("*");
    }
    expect(flaggerRoutes.length).toBe(name === "flagger" ? 1 : 0);
  });

  if (name === "flagger") {
    test("Flagger-managed services have no chart-rendered Service, DestinationRule, VirtualService or canary", () => {
      for (const app of ["order", "gateway"]) {
        for (const kind of ["Service", "DestinationRule", "VirtualService"]) {
          expect(docs.filter((d) => d.kind === kind && d.metadata.labels?.app === app)).toEqual([]);
        }
        const canary = docs.find((d) => d.kind === "Canary" && d.metadata.name === app) as Manifest;
        expect(canary.spec.targetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: app });
        expect(canary.spec.service.port).toBe(mainPort(values.services[app] as never));
        // Both stream (WatchOrder, the order events): a route timeout would cut the streams off.
        expect(canary.spec.service.timeout).toBeUndefined();
      }
    });
  }
});

describe("the dependency graph", () => {
  test("services.*.calls in values.yaml is exactly what the code calls", () => {
    const declared = Object.fromEntries(
      services
        .filter((s) => Object.keys(values.services[s]?.calls ?? {}).length > 0)
        .map((s) => [
          s,
          Object.fromEntries(
            Object.entries(values.services[s]?.calls ?? {}).map(([callee, methods]) => [callee, [...methods].sort()]),
          ),
        ]),
    );
    expect(declared).toEqual(codeGraph);
  });

  test("the code scan sees calls made behind ports and saga steps (a check of the check)", () => {
    // The order saga asks payment about an authorization before voiding it (saga-steps → PaymentPort).
    expect(codeGraph.order?.payment).toEqual(["AuthorizePayment", "GetPayment", "TokenizeCard", "VoidPayment"]);
    expect(codeGraph.notification).toEqual({ identity: ["GetCustomer"] });
    expect(Object.keys(codeGraph.gateway ?? {}).sort()).toEqual(services.filter((s) => s !== "gateway").sort());
  });

  test("every grpcService and every method in the graph exists in proto/", () => {
    for (const s of grpcServices) {
      expect(proto.map((p) => p.fullName)).toContain(values.services[s]?.grpcService);
    }
    for (const s of services) {
      for (const [callee, methods] of Object.entries(values.services[s]?.calls ?? {})) {
        const p = proto.find((x) => x.fullName === values.services[callee]?.grpcService);
        for (const m of methods) expect(p?.methods.map((x) => x.name)).toContain(m);
      }
    }
  });

  test("the gateway may call exactly the RPCs with an (agora.options.v1.http) option, plus GetProduct and GetJwks", () => {
    const byProto = new Map(grpcServices.map((s) => [values.services[s]?.grpcService, s]));
    const expected: string[] = proto.flatMap((p) => p.methods.filter((m) => m.http).map((m) => m.path));
    expected.push("/agora.catalog.v1.CatalogService/GetProduct", "/agora.identity.v1.IdentityService/GetJwks");
    const actual = Object.entries(values.services.gateway?.calls ?? {}).flatMap(([callee, methods]) =>
      methods.map((m) => `/${values.services[callee]?.grpcService}/${m}`),
    );
    expect(actual.sort()).toEqual(expected.sort());
    expect(expected.length).toBeGreaterThan(20);
    for (const path of expected) expect(byProto.has(path.split("/")[1])).toBe(true);
  });

  test("the proto parser sees http options (a check of the check)", () => {
    const catalog = proto.find((p) => p.fullName === "agora.catalog.v1.CatalogService");
    expect(catalog?.methods.find((m) => m.name === "ListProducts")?.http).toBe(true);
    expect(catalog?.methods.find((m) => m.name === "GetProduct")?.http).toBe(false);
  });
});
