import type { Cluster, KubeObject } from "../src/kube";
import type { Metrics } from "../src/prometheus";

/** An in-memory cluster recording every change. */
export class FakeCluster implements Cluster {
  readonly objects = new Map<string, KubeObject>();
  readonly log: string[] = [];

  constructor(objs: KubeObject[]) {
    for (const o of objs) this.objects.set(this.key(o.kind, o.metadata.name), structuredClone(o));
  }

  key(kind: string, name: string): string {
    return `${kind.toLowerCase()}/${name}`;
  }

  async get(kind: string, name: string): Promise<KubeObject | undefined> {
    const o = this.objects.get(this.key(kind, name));
    return o ? structuredClone(o) : undefined;
  }

  async apply(obj: KubeObject): Promise<void> {
    this.log.push(`apply ${this.key(obj.kind, obj.metadata.name)}`);
    this.objects.set(this.key(obj.kind, obj.metadata.name), structuredClone(obj));
  }

  async replace(obj: KubeObject): Promise<void> {
    const k = this.key(obj.kind, obj.metadata.name);
    if (!this.objects.has(k)) throw new Error(`replace of missing ${k}`);
    this.log.push(`replace ${k}`);
    this.objects.set(k, structuredClone(obj));
  }

  async delete(kind: string, name: string): Promise<void> {
    this.log.push(`delete ${this.key(kind, name)}`);
    this.objects.delete(this.key(kind, name));
  }

  async waitForRollout(deployment: string): Promise<void> {
    if (!this.objects.has(this.key("deployment", deployment))) throw new Error(`no deployment ${deployment}`);
    this.log.push(`rollout ${deployment}`);
  }
}

/** Prometheus answering from a function of the query and how many gates have run. */
export class FakeMetrics implements Metrics {
  readonly queries: string[] = [];
  constructor(private readonly answer: (q: string) => number | undefined) {}
  async query(q: string): Promise<number | undefined> {
    this.queries.push(q);
    return this.answer(q);
  }
}

/** The objects the chart renders for order with Istio on (no canary yet). */
export function orderObjects(): KubeObject[] {
  const host = "order.agora.svc.cluster.local";
  const dest = (subset: string, weight: number) => ({ destination: { host, subset, port: { number: 50053 } }, weight });
  return [
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "order", labels: { app: "order", version: "v1" } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "order", version: "v1" } },
        template: {
          metadata: { labels: { app: "order", version: "v1" } },
          spec: {
            containers: [{ name: "order", image: "agora-order:0.1.0", env: [{ name: "GRPC_PORT", value: "50053" }] }],
          },
        },
      },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: "order" },
      spec: { host, subsets: [{ name: "v1", labels: { version: "v1" } }] },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "order" },
      spec: {
        hosts: [host],
        http: [
          {
            name: "streams",
            match: [{ uri: { exact: "/agora.order.v1.OrderService/WatchOrder" } }],
            route: [dest("v1", 100)],
            timeout: "0s",
          },
          { name: "default", route: [dest("v1", 100)], timeout: "10s" },
        ],
      },
    },
  ];
}

/** The objects the chart renders for the HTTP gateway with Istio and the ingress on (no canary yet). */
export function gatewayObjects(): KubeObject[] {
  const host = "gateway.agora.svc.cluster.local";
  const dest = (subset: string, weight: number) => ({ destination: { host, subset, port: { number: 8080 } }, weight });
  const routes = (timeout: string) => [
    {
      name: "streams",
      match: [{ uri: { regex: "^/v1/orders/[^/]+/events$" } }],
      route: [dest("v1", 100)],
      timeout: "0s",
    },
    { name: "default", route: [dest("v1", 100)], timeout },
  ];
  return [
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "gateway", labels: { app: "gateway", version: "v1" } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "gateway", version: "v1" } },
        template: {
          metadata: { labels: { app: "gateway", version: "v1" } },
          spec: { containers: [{ name: "gateway", image: "agora-gateway:0.1.0", env: [] }] },
        },
      },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: "gateway" },
      spec: { host, subsets: [{ name: "v1", labels: { version: "v1" } }] },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "gateway" },
      spec: { hosts: [host], http: routes("10s") },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "gateway-ingress" },
      spec: { hosts: ["*"], gateways: ["agora-ingress"], http: routes("30s") },
    },
  ];
}
