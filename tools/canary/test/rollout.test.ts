import { gateQueries } from "../src/gate";
import { parseCli } from "../src/main";
import { canaryDeployment, parseSteps, type RolloutEvent, type RolloutOptions, runCanary } from "../src/rollout";
import { canaryWeight } from "../src/virtual-service";
import { FakeCluster, FakeMetrics, gatewayObjects, orderObjects } from "./fakes";

const options = (over: Partial<RolloutOptions> = {}): RolloutOptions => ({
  ...parseCli(["order", "--image", "agora-order:0.2.0", "--interval", "10"]).options,
  ...over,
});

/** Prometheus where the canary has `requests` requests, `failures` of them failed, and this p99. */
function metricsFor(perStep: { requests: number; failures: number; p99: number }[], weights: () => number) {
  const steps = [10, 25, 50, 100];
  return new FakeMetrics((q) => {
    const s = perStep[Math.max(0, steps.indexOf(weights()))] ?? perStep[perStep.length - 1];
    if (!s) return undefined;
    if (q.startsWith("histogram_quantile")) return s.p99;
    if (q.includes("grpc_response_status=~")) return s.failures;
    return s.requests;
  });
}

function run(cluster: FakeCluster, metrics: FakeMetrics, o = options()) {
  const events: RolloutEvent[] = [];
  const weightsSeen: number[] = [];
  const promise = runCanary(o, {
    cluster,
    metrics,
    sleep: async () => {
      const vs = cluster.objects.get("virtualservice/order");
      if (vs) weightsSeen.push(canaryWeight(vs, "v2"));
    },
    onEvent: (e) => events.push(e),
  });
  return { promise, events, weightsSeen };
}

test("a healthy canary steps 10 → 25 → 50 → 100 and is promoted", async () => {
  const cluster = new FakeCluster(orderObjects());
  const metrics = metricsFor([{ requests: 500, failures: 1, p99: 120 }], () =>
    canaryWeight(cluster.objects.get("virtualservice/order") as never, "v2"),
  );
  const { promise, events, weightsSeen } = run(cluster, metrics);
  await expect(promise).resolves.toEqual({ status: "promoted", weight: 100, reason: "every gate passed" });
  expect([...new Set(weightsSeen)]).toEqual([10, 25, 50, 100]);
  expect(
    events.filter((e) => e.type === "gate").map((e) => (e as { result: { verdict: string } }).result.verdict),
  ).toEqual(["pass", "pass", "pass", "pass"]);
  const stable = cluster.objects.get("deployment/order");
  expect(stable?.spec.template.spec.containers[0].image).toBe("agora-order:0.2.0");
  expect(cluster.objects.has("deployment/order-v2")).toBe(false);
  expect(canaryWeight(cluster.objects.get("virtualservice/order") as never, "v2")).toBe(0);
  expect(cluster.log).toContain("rollout order");
});

test("a canary failing 30 % of its calls is rolled back at the first gate", async () => {
  const cluster = new FakeCluster(orderObjects());
  const metrics = metricsFor([{ requests: 400, failures: 120, p99: 90 }], () =>
    canaryWeight(cluster.objects.get("virtualservice/order") as never, "v2"),
  );
  const o = options({ env: { FAULT_ERROR_RATE: "0.3" } });
  const { promise, events } = run(cluster, metrics, o);
  const outcome = await promise;
  expect(outcome.status).toBe("rolled-back");
  expect(outcome.weight).toBe(10);
  expect(outcome.reason).toMatch(/success rate 70\.00% < 99\.00%/);
  expect(events.at(-1)?.type).toBe("rolled-back");
  expect(cluster.objects.get("deployment/order")?.spec.template.spec.containers[0].image).toBe("agora-order:0.1.0");
  expect(cluster.objects.has("deployment/order-v2")).toBe(false);
  expect(canaryWeight(cluster.objects.get("virtualservice/order") as never, "v2")).toBe(0);
  expect(cluster.log).toContain("apply deployment/order-v2");
});

test("a slow canary is rolled back on p99 at a later step", async () => {
  const cluster = new FakeCluster(orderObjects());
  const metrics = metricsFor(
    [
      { requests: 300, failures: 0, p99: 100 },
      { requests: 300, failures: 0, p99: 100 },
      { requests: 300, failures: 0, p99: 900 },
    ],
    () => canaryWeight(cluster.objects.get("virtualservice/order") as never, "v2"),
  );
  const outcome = await run(cluster, metrics).promise;
  expect(outcome).toEqual({ status: "rolled-back", weight: 50, reason: "p99 900 ms > 500 ms" });
});

describe("a canary of the HTTP gateway", () => {
  const gatewayOptions = (over: Partial<RolloutOptions> = {}): RolloutOptions => ({
    ...parseCli(["gateway", "--image", "agora-gateway:0.2.0", "--interval", "10"]).options,
    ...over,
  });

  /** Runs the rollout, recording both VirtualServices' canary weights at every wait. */
  async function runGateway(health: { failures: number }) {
    const cluster = new FakeCluster(gatewayObjects());
    const weight = (name: string) => canaryWeight(cluster.objects.get(`virtualservice/${name}`) as never, "v2");
    const metrics = metricsFor([{ requests: 500, failures: health.failures, p99: 80 }], () => weight("gateway"));
    const seen = { mesh: [] as number[], ingress: [] as number[] };
    const outcome = await runCanary(gatewayOptions(), {
      cluster,
      metrics,
      sleep: async () => {
        seen.mesh.push(weight("gateway"));
        seen.ingress.push(weight("gateway-ingress"));
      },
      onEvent: () => {},
    });
    return { cluster, outcome, seen, weight };
  }

  test("steps the ingress VirtualService with the mesh one, so outside traffic reaches the canary", async () => {
    const { cluster, outcome, seen, weight } = await runGateway({ failures: 0 });
    expect(outcome.status).toBe("promoted");
    expect([...new Set(seen.ingress)]).toEqual([10, 25, 50, 100]);
    expect(seen.ingress).toEqual(seen.mesh);
    expect(weight("gateway-ingress")).toBe(0);
    const ingress = cluster.objects.get("virtualservice/gateway-ingress");
    expect(ingress?.spec.gateways).toEqual(["agora-ingress"]);
    expect(ingress?.spec.http[0]).toMatchObject({
      name: "canary-header",
      match: [{ headers: { "x-agora-canary": { exact: "v2" } } }],
    });
  });

  test("a rollback takes the canary out of the ingress route as well", async () => {
    const { outcome, seen, weight } = await runGateway({ failures: 100 });
    expect(outcome.status).toBe("rolled-back");
    expect(seen.ingress).toContain(10);
    expect(weight("gateway-ingress")).toBe(0);
    expect(weight("gateway")).toBe(0);
  });
});

test("too little traffic waits, then fails rather than promoting blind", async () => {
  const cluster = new FakeCluster(orderObjects());
  const metrics = new FakeMetrics(() => 3);
  const { promise, events } = run(cluster, metrics, options({ maxTrafficWaits: 2 }));
  const outcome = await promise;
  expect(outcome.status).toBe("rolled-back");
  expect(outcome.reason).toMatch(/not enough traffic: 3 requests in 1m, need 20/);
  expect(events.filter((e) => e.type === "gate")).toHaveLength(3);
});

test("the canary Deployment gets its own version label, image and fault env", () => {
  const [stable] = orderObjects();
  const d = canaryDeployment(stable as never, options({ env: { FAULT_ERROR_RATE: "0.3" } }), "agora-order:0.2.0");
  expect(d.metadata.name).toBe("order-v2");
  expect(d.spec.selector.matchLabels).toEqual({ app: "order", version: "v2" });
  expect(d.spec.template.metadata.labels.version).toBe("v2");
  expect(d.spec.template.spec.containers[0].image).toBe("agora-order:0.2.0");
  expect(d.spec.template.spec.containers[0].env).toEqual([
    { name: "GRPC_PORT", value: "50053" },
    { name: "FAULT_ERROR_RATE", value: "0.3" },
  ]);
  expect(stable?.spec.template.metadata.labels.version).toBe("v1");
});

test("the gate queries Istio's standard metrics for the canary workload and version", () => {
  const q = gateQueries({ namespace: "agora", workload: "order-v2", version: "v2" }, "1m");
  for (const s of [q.requests, q.failures, q.p99]) {
    expect(s).toContain('destination_workload="order-v2"');
    expect(s).toContain('destination_version="v2"');
    expect(s).toContain('reporter="destination"');
  }
  expect(q.requests).toMatch(/^sum\(increase\(istio_requests_total\{/);
  expect(q.failures).toContain('grpc_response_status=~"2|4|12|13|14|15"');
  expect(q.failures).toContain('grpc_response_status="",response_code=~"5.."');
  expect(q.p99).toMatch(
    /^histogram_quantile\(0\.99, sum by \(le\) \(rate\(istio_request_duration_milliseconds_bucket\{/,
  );
});

test("CLI arguments are validated", () => {
  expect(parseSteps("10,25,50,100")).toEqual([10, 25, 50, 100]);
  expect(() => parseSteps("10,5,100")).toThrow(/must increase/);
  expect(() => parseSteps("10,50")).toThrow(/end at 100/);
  expect(() => parseCli([])).toThrow(/agora-canary SERVICE/);
  expect(() => parseCli(["order", "--env", "NOEQUALS"])).toThrow(/KEY=VALUE/);
  expect(() => parseCli(["order", "--min-success", "99"])).toThrow(/between 0 and 1/);
  const cli = parseCli([
    "order",
    "--env",
    "FAULT_DELAY_MS=300",
    "--prometheus",
    "http://prom:9090",
    "--steps",
    "50,100",
  ]);
  expect(cli.options.env).toEqual({ FAULT_DELAY_MS: "300" });
  expect(cli.options.steps).toEqual([50, 100]);
  expect(cli.prometheus).toBe("http://prom:9090");
});
