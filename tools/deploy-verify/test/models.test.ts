import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Manifest, parseManifests, render } from "../src/helm";
import { repoRoot } from "../src/paths";
import { profiles } from "../src/profiles";
import { kindsWithoutModels, validateManifests } from "../src/validate";

const rendered = new Map<string, Manifest[]>(profiles.map((p) => [p.name, render(p)]));

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

describe("every rendered document validates against the Kubernetes and Istio models", () => {
  test.each(profiles.map((p) => p.name))("profile %s", (name) => {
    const docs = rendered.get(name) as Manifest[];
    expect(docs.length).toBeGreaterThan(30);
    expect(validateManifests(docs)).toEqual([]);
  });

  test("the mesh-wide files in istio/ validate too", () => {
    const files = readdirSync(join(repoRoot, "istio")).filter((f) => f.endsWith(".yaml"));
    expect(files.length).toBeGreaterThan(0);
    const docs = files.flatMap((f) => parseManifests(readFileSync(join(repoRoot, "istio", f), "utf8")));
    expect(docs.map((d) => d.kind)).toEqual(expect.arrayContaining(["PeerAuthentication", "IstioOperator"]));
    expect(validateManifests(docs)).toEqual([]);
  });

  test("only Flagger's resources go without a model, and only in the flagger profile", () => {
    for (const p of profiles) {
      const unmodelled = (rendered.get(p.name) as Manifest[]).filter((d) =>
        kindsWithoutModels.has(`${d.apiVersion}/${d.kind}`),
      );
      if (p.name === "flagger")
        expect(unmodelled.map((d) => d.kind).sort()).toEqual(["Canary", "Canary", "MetricTemplate"]);
      else expect(unmodelled).toEqual([]);
    }
  });
});

describe("the validator rejects broken documents (so a pass means something)", () => {
  const docs = rendered.get("canary") as Manifest[];
  const deployment = docs.find((d) => d.kind === "Deployment" && d.metadata.name === "order") as Manifest;
  const vs = docs.find((d) => d.kind === "VirtualService" && d.metadata.name === "order") as Manifest;
  const ap = docs.find((d) => d.kind === "AuthorizationPolicy" && d.metadata.name === "order") as Manifest;
  const dr = docs.find((d) => d.kind === "DestinationRule" && d.metadata.name === "order") as Manifest;

  test("the unmodified documents are valid", () => {
    expect(validateManifests([deployment, vs, ap, dr])).toEqual([]);
  });

  test("a wrong type in a Deployment", () => {
    const bad = clone(deployment);
    bad.spec.template.spec.containers[0].readinessProbe.grpc.port = "grpc";
    expect(validateManifests([bad])).toEqual([
      expect.objectContaining({ error: expect.stringMatching(/readinessProbe\/grpc\/port must be integer/) }),
    ]);
  });

  test("an unknown or misplaced field in a Deployment", () => {
    const bad = clone(deployment);
    bad.spec.template.spec.containers[0].imagePolicy = "Always";
    bad.spec.template.spec.terminationGracePeriod = 30;
    const errors = validateManifests([bad]).map((p) => p.error);
    expect(errors).toEqual(
      expect.arrayContaining([
        'unknown field "spec.template.spec.containers[0].imagePolicy"',
        'unknown field "spec.template.spec.terminationGracePeriod"',
      ]),
    );
  });

  test("a field newer than Kubernetes 1.30 (pod-level resources, 1.32) is unknown, though newer schemas know it", () => {
    const bad = clone(deployment);
    bad.spec.template.spec.resources = { requests: { cpu: "100m" } };
    bad.spec.template.spec.hostnameOverride = "order";
    expect(validateManifests([bad]).map((p) => p.error)).toEqual([
      'unknown field "spec.template.spec.resources"',
      'unknown field "spec.template.spec.hostnameOverride"',
    ]);
  });

  test("a missing required field and a bad enum in a Service", () => {
    const svc = docs.find((d) => d.kind === "Service" && d.metadata.name === "order") as Manifest;
    const noPort = clone(svc);
    delete noPort.spec.ports[0].port;
    const badProtocol = clone(svc);
    badProtocol.spec.ports[1].protocol = "QUIC";
    expect(validateManifests([noPort, badProtocol]).map((p) => p.error)).toEqual([
      expect.stringMatching(/ports\/0 must have required property '?port'?/),
      expect.stringMatching(/protocol must be equal to one of the allowed values/),
    ]);
  });

  test("broken Istio documents", () => {
    const badVs = clone(vs);
    badVs.spec.http[0].route[0].wieght = 10;
    const badAp = clone(ap);
    badAp.spec.action = "PERMIT";
    const badDr = clone(dr);
    badDr.spec.trafficPolicy.tls.mode = "MUTUAL_TLS";
    const problems = validateManifests([badVs, badAp, badDr]);
    expect(problems.map((p) => `${p.kind}`).sort()).toEqual([
      "AuthorizationPolicy",
      "DestinationRule",
      "VirtualService",
    ]);
    expect(problems.find((p) => p.kind === "VirtualService")?.error).toMatch(
      /unknown field "spec\.http\[0\]\.route\[0\]\.wieght"/,
    );
  });

  test("a kind without a model is an error, not a pass", () => {
    expect(validateManifests([{ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }])).toEqual([
      expect.objectContaining({ error: expect.stringMatching(/no model/) }),
      expect.objectContaining({ error: expect.stringMatching(/no declared type/) }),
    ]);
  });
});
