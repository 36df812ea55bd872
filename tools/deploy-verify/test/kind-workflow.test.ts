import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { repoRoot } from "../src/paths";

// .github/workflows/kind.yaml cannot run here (no Docker): check that it runs what the issue asks, in
// order — install, helm test, the end-to-end suite through a port-forward to the gateway, Istio, the
// suite again through the ingress, then a canary that must roll back and one that must be promoted —
// and that every URL it hands the suite is a port it forwarded.

interface Step {
  name?: string;
  run?: string;
  uses?: string;
}

const workflow = parse(readFileSync(join(repoRoot, ".github/workflows/kind.yaml"), "utf8")) as {
  jobs: Record<string, { steps: Step[] }>;
};
const steps = Object.values(workflow.jobs).flatMap((job) => job.steps);
const runs = steps.map((s) => s.run ?? "");
const journey = readFileSync(join(repoRoot, "tests/end-to-end/test/customer-journey.test.ts"), "utf8");

/** Index of the first step whose script matches. */
const stepIndex = (pattern: RegExp): number => runs.findIndex((r) => pattern.test(r));

/** Ports the end-to-end suite is pointed at in a step, and the local ports forwarded so far. */
function suiteRunsIn(index: number): { url: string; forwarded: number[] }[] {
  const forwarded = runs
    .slice(0, index + 1)
    .flatMap((r) => [...r.matchAll(/port-forward \S+ (\d+):\d+/g)].map((m) => Number(m[1])));
  return [...(runs[index] ?? "").matchAll(/cd tests\/end-to-end && E2E_GATEWAY_URL=(\S+) npx jest --runInBand/g)].map(
    (m) => ({ url: m[1] as string, forwarded }),
  );
}

test("installs reproducibly and builds what the end-to-end suite imports", () => {
  expect(runs.some((r) => /\bnpm ci\b/.test(r))).toBe(true);
  expect(runs.some((r) => /\bnpm install\b/.test(r))).toBe(false);
  expect(runs.join("\n")).toMatch(/turbo run build [^\n]*--filter=@agora\/end-to-end\^\.\.\./);
});

test("the order: helm install, helm test, the journey via the gateway, Istio, the journey via the ingress, the canary demo", () => {
  const order = [
    stepIndex(/helm install agora charts\/agora/),
    stepIndex(/helm test agora/),
    stepIndex(/port-forward svc\/gateway 8080:8080[\s\S]*E2E_GATEWAY_URL=/),
    stepIndex(/istioctl install/),
    stepIndex(/--set istio\.enabled=true/),
    stepIndex(/port-forward svc\/istio-ingressgateway[\s\S]*E2E_GATEWAY_URL=/),
    stepIndex(/tools\/canary\/dist\/main\.js order/),
  ];
  expect(order.every((i) => i >= 0)).toBe(true);
  expect([...order].sort((a, b) => a - b)).toEqual(order);
});

test("every run of the end-to-end suite targets a port the workflow forwarded", () => {
  const suiteRuns = runs.flatMap((_r, i) => suiteRunsIn(i));
  expect(suiteRuns).toHaveLength(2);
  for (const { url, forwarded } of suiteRuns) {
    const port = Number(/^http:\/\/127\.0\.0\.1:(\d+)$/.exec(url)?.[1]);
    expect(forwarded).toContain(port);
  }
});

test("the canary demo rolls a faulty build back and promotes a healthy one", () => {
  const demo = runs[stepIndex(/tools\/canary\/dist\/main\.js order/)] ?? "";
  expect(demo).toMatch(/--env FAULT_ERROR_RATE=0\.\d+/);
  expect(demo).toMatch(/test "\$faulty" = 1/);
  expect(demo.match(/tools\/canary\/dist\/main\.js order/g)).toHaveLength(2);
});

test("the suite knows E2E_GATEWAY_URL: no local system, no trace check, polite polling, the README tour's GW", () => {
  expect(journey).toContain("process.env.E2E_GATEWAY_URL");
  expect(journey).toMatch(/beforeAll\(async \(\) => \{\n\s+if \(external\) return;/);
  expect(journey).toMatch(/if \(external\) return;\n\s+await waitUntil\(/);
  const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
  const tour = readme.slice(readme.indexOf("## The HTTP tour"));
  expect(/```sh\n([\s\S]*?)```/.exec(tour)?.[1]).toMatch(/^GW=http:\/\/localhost:8080$/m);
});
