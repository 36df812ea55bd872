import { KubectlCluster, type Runner } from "../src/kube";
import { PrometheusMetrics } from "../src/prometheus";
import { progressView } from "../src/view";

test("kubectl is called with namespace, context and the object on stdin", async () => {
  const calls: { args: string[]; input?: string }[] = [];
  const run: Runner = async (_cmd, args, input) => {
    calls.push({ args, input });
    return args.includes("get") && args.includes("missing") ? "" : '{"kind":"Deployment","metadata":{"name":"order"}}';
  };
  const k = new KubectlCluster("shop", run, "kind-agora");
  await expect(k.get("deployment", "missing")).resolves.toBeUndefined();
  await expect(k.get("deployment", "order")).resolves.toEqual({ kind: "Deployment", metadata: { name: "order" } });
  await k.replace({ apiVersion: "v1", kind: "Deployment", metadata: { name: "order" } });
  await k.waitForRollout("order", 120);
  expect(calls[0]?.args).toEqual([
    "--context",
    "kind-agora",
    "--namespace",
    "shop",
    "get",
    "deployment",
    "missing",
    "--ignore-not-found",
    "-o",
    "json",
  ]);
  expect(calls[2]?.args.slice(-3)).toEqual(["replace", "-f", "-"]);
  expect(JSON.parse(calls[2]?.input ?? "{}").metadata.name).toBe("order");
  expect(calls[3]?.args.slice(-3)).toEqual(["status", "deployment/order", "--timeout=120s"]);
});

test("Prometheus instant queries: value, empty result, NaN and errors", async () => {
  const answers: unknown[] = [
    { status: "success", data: { resultType: "vector", result: [{ value: [1, "0.97"] }] } },
    { status: "success", data: { resultType: "vector", result: [] } },
    { status: "success", data: { resultType: "vector", result: [{ value: [1, "NaN"] }] } },
    { status: "error", error: "parse error" },
  ];
  const urls: string[] = [];
  const fetchImpl = (async (url: string) => {
    urls.push(url);
    return new Response(JSON.stringify(answers.shift()), { status: 200 });
  }) as unknown as typeof fetch;
  const p = new PrometheusMetrics("http://prom:9090/", fetchImpl);
  await expect(p.query("up")).resolves.toBe(0.97);
  await expect(p.query("up")).resolves.toBeUndefined();
  await expect(p.query("up")).resolves.toBeUndefined();
  await expect(p.query("up{")).rejects.toThrow(/parse error/);
  expect(urls[0]).toBe("http://prom:9090/api/v1/query?query=up");
});

test("the progress view prints steps, gates and the outcome, and updates the countdown in place on a terminal", () => {
  let text = "";
  const view = progressView({ write: (t) => (text += t), isTTY: true }, () => new Date("2026-01-01T12:00:00Z"));
  view({ type: "weight", weight: 25, step: 2, steps: 4 });
  view({ type: "waiting", weight: 25, remainingSeconds: 30 });
  view({
    type: "gate",
    weight: 25,
    result: { verdict: "fail", requests: 400, successRate: 0.7, p99Ms: 90, reason: "success rate 70.00% < 99.00%" },
  });
  view({ type: "rolled-back", weight: 25, reason: "success rate 70.00% < 99.00%" });
  expect(text).toContain("12:00:00 step 2/4 [#####...............]  25% of the traffic to the canary\n");
  expect(text).toContain("\r\x1b[2K  [#####...............]  25% gate in 30s");
  expect(text).toContain("gate FAIL: 400 requests, success 70.00%, p99 90 ms");
  expect(text).toMatch(/ROLLED BACK at 25%/);
});
