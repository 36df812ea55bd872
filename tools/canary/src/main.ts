#!/usr/bin/env node
import { parseArgs } from "node:util";
import { KubectlCluster } from "./kube";
import { PrometheusMetrics } from "./prometheus";
import { parseSteps, type RolloutOptions, runCanary } from "./rollout";
import { progressView } from "./view";

const usage = `agora-canary SERVICE [options]

Starts a canary of SERVICE next to its stable version, steps its share of the traffic through the
Istio VirtualService (for the gateway also its ingress VirtualService, gateway-ingress), judges each
step on Prometheus (Istio's istio_requests_total and istio_request_duration_milliseconds for the
canary's workload), rolls back at the first failed gate and promotes at the end.

  --image IMAGE          image of the new version (default: the running SERVICE-v2 Deployment)
  --env K=V              extra env on the canary, repeatable (FAULT_ERROR_RATE=0.3 shows a rollback)
  --steps 10,25,50,100   traffic weights, ending at 100
  --interval 60          seconds per step before the gate
  --window 1m            Prometheus range the gate looks at
  --min-success 0.99     lowest success rate (server-side gRPC errors and HTTP 5xx count as failures)
  --max-p99 500          highest p99 latency in ms
  --min-requests 20      fewer requests than this in the window cannot be judged
  --traffic-waits 2      extra intervals to wait for enough traffic before failing
  --prometheus URL       default http://127.0.0.1:9090 (kubectl -n istio-system port-forward svc/prometheus 9090)
  --namespace NS         default agora
  --context CTX          kubectl context (default: the current one)
`;

/** Parses argv into rollout options plus where Prometheus and the cluster are. */
export function parseCli(argv: string[]): { options: RolloutOptions; prometheus: string; context?: string } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      image: { type: "string" },
      env: { type: "string", multiple: true, default: [] },
      steps: { type: "string", default: "10,25,50,100" },
      interval: { type: "string", default: "60" },
      window: { type: "string", default: "1m" },
      "min-success": { type: "string", default: "0.99" },
      "max-p99": { type: "string", default: "500" },
      "min-requests": { type: "string", default: "20" },
      "traffic-waits": { type: "string", default: "2" },
      prometheus: { type: "string", default: "http://127.0.0.1:9090" },
      namespace: { type: "string", default: "agora" },
      context: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help || positionals.length !== 1) throw new Error(usage);
  const num = (name: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got "${v}"`);
    return n;
  };
  const env: Record<string, string> = {};
  for (const kv of values.env ?? []) {
    const i = kv.indexOf("=");
    if (i <= 0) throw new Error(`--env wants KEY=VALUE, got "${kv}"`);
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const minSuccess = num("min-success", values["min-success"]);
  if (minSuccess > 1) throw new Error("--min-success is a share between 0 and 1");
  return {
    prometheus: values.prometheus as string,
    context: values.context,
    options: {
      namespace: values.namespace as string,
      service: positionals[0] as string,
      image: values.image,
      env,
      stableVersion: "v1",
      canaryVersion: "v2",
      steps: parseSteps(values.steps as string),
      stepSeconds: num("interval", values.interval),
      maxTrafficWaits: num("traffic-waits", values["traffic-waits"]),
      gate: {
        window: values.window as string,
        minSuccessRate: minSuccess,
        maxP99Ms: num("max-p99", values["max-p99"]),
        minRequests: num("min-requests", values["min-requests"]),
      },
      header: { name: "x-agora-canary", value: "v2" },
      rolloutTimeoutSeconds: 300,
    },
  };
}

async function main(): Promise<number> {
  let cli: ReturnType<typeof parseCli>;
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  const outcome = await runCanary(cli.options, {
    cluster: new KubectlCluster(cli.options.namespace, undefined, cli.context),
    metrics: new PrometheusMetrics(cli.prometheus),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    onEvent: progressView(process.stdout),
  });
  return outcome.status === "promoted" ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(2);
    },
  );
}
