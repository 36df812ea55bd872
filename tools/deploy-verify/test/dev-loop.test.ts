import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv from "ajv";
import { parse } from "yaml";
import { find, type Manifest, render } from "../src/helm";
import { repoRoot } from "../src/paths";
import { tiltCalls, tiltHelmOptions } from "../src/tilt";
import { loadChartValues } from "../src/values";

// biome-ignore lint/suspicious/noExplicitAny: skaffold.yaml is checked by its schema below.
type Skaffold = any;

const skaffold: Skaffold = parse(readFileSync(join(repoRoot, "skaffold.yaml"), "utf8"));
const schema = JSON.parse(readFileSync(join(__dirname, "../schemas/skaffold-v4beta13.json"), "utf8"));
const validateSkaffold = new Ajv({ strict: false, allErrors: true }).compile(schema);
const values = loadChartValues();
const services = Object.keys(values.services).sort();
const tiltfile = readFileSync(join(repoRoot, "Tiltfile"), "utf8");

/** Applies RFC 6902 add/replace/remove patches, as skaffold does for a profile's `patches`. */
function applyPatches(doc: Skaffold, patches: { op: string; path: string; value?: unknown }[]): Skaffold {
  const out = JSON.parse(JSON.stringify(doc));
  for (const p of patches) {
    const keys = p.path
      .split("/")
      .slice(1)
      .map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = keys.pop() as string;
    let target = out;
    for (const k of keys) {
      if (target[k] === undefined) throw new Error(`patch path ${p.path} does not exist`);
      target = target[k];
    }
    if (p.op === "remove") delete target[last];
    else if (Array.isArray(target) && last === "-") target.push(p.value);
    else if (p.op === "add" || p.op === "replace") target[last] = p.value;
    else throw new Error(`unsupported patch op ${p.op}`);
  }
  return out;
}

/**
 * A profile's own fields over the config, as skaffold overlays them: objects field by field, everything
 * else (lists included) replaced by the profile's value.
 */
function overlay(base: Skaffold, over: Skaffold): Skaffold {
  const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  if (!isObject(base) || !isObject(over)) return JSON.parse(JSON.stringify(over));
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? overlay(base[k], v) : JSON.parse(JSON.stringify(v));
  return out;
}

/** skaffold.yaml with the given profiles applied in order: each profile's fields, then its patches. */
function withProfiles(names: string[]): Skaffold {
  let doc = skaffold;
  for (const n of names) {
    const profile = skaffold.profiles.find((p: { name: string }) => p.name === n);
    if (!profile) throw new Error(`no profile ${n}`);
    const { name: _name, activation: _activation, requiresAllActivations: _all, patches, ...fields } = profile;
    doc = overlay(doc, fields);
    if (patches) doc = applyPatches(doc, patches);
  }
  return doc;
}

/** Renders the chart the way skaffold's helm deployer would, with fake built-image coordinates. */
function renderLikeSkaffold(doc: Skaffold): Manifest[] {
  const release = doc.deploy.helm.releases[0];
  const set: Record<string, string | number | boolean> = { ...release.setValues };
  for (const [k, tpl] of Object.entries(release.setValueTemplates as Record<string, string>)) {
    set[k] = tpl.replace(/\{\{\.IMAGE_(REPO|TAG)_([A-Za-z0-9_]+)\}\}/g, (_m, part: string, art: string) =>
      part === "REPO" ? `registry.test/${art}` : `tag-${art}`,
    );
  }
  return render({ release: release.name, namespace: release.namespace, set });
}

const images = (docs: Manifest[]): string[] =>
  docs.flatMap((d) => {
    const pod = d.kind === "Pod" ? d.spec : d.spec?.template?.spec;
    return pod ? pod.containers.map((c: { image: string }) => c.image) : [];
  });

describe("skaffold.yaml", () => {
  test("validates against the skaffold/v4beta13 schema", () => {
    expect(skaffold.apiVersion).toBe("skaffold/v4beta13");
    expect(validateSkaffold(skaffold) ? [] : validateSkaffold.errors).toEqual([]);
  });

  test("the schema rejects a misspelt key (a check of the check)", () => {
    const bad = JSON.parse(JSON.stringify(skaffold));
    bad.deploy.helm.releases[0].setValueTemplate = bad.deploy.helm.releases[0].setValueTemplates;
    expect(validateSkaffold(bad)).toBe(false);
  });

  test.each([["minikube"], ["minikube,dev"], ["minikube,istio"], ["minikube,istio,canary"], ["dev,canary"]])(
    "with profiles %s it still validates",
    (names) => {
      const doc = withProfiles(names.split(","));
      delete doc.profiles;
      expect(validateSkaffold(doc) ? [] : validateSkaffold.errors).toEqual([]);
    },
  );

  test("every service is an artifact built from the one Dockerfile with its SERVICE build arg", () => {
    const arts = skaffold.build.artifacts as {
      image: string;
      context: string;
      docker: { buildArgs: { SERVICE: string } };
    }[];
    expect(arts.map((a) => a.docker.buildArgs.SERVICE).sort()).toEqual(services);
    for (const a of arts) {
      expect(a.image).toBe(`agora-${a.docker.buildArgs.SERVICE}`);
      expect(a.image).toBe(values.services[a.docker.buildArgs.SERVICE]?.image.repository);
    }
  });

  test.each([[""], ["istio"], ["istio,canary"], ["dev"]])(
    "profiles [%s]: every image skaffold sets is consumed by the chart, and every app image comes from skaffold",
    (names) => {
      const doc = withProfiles(["minikube", ...names.split(",").filter(Boolean)]);
      const docs = renderLikeSkaffold(doc);
      const used = images(docs);
      for (const art of doc.build.artifacts as { image: string }[]) {
        const key = art.image.replace(/[-./]/g, "_");
        expect(used).toContain(`registry.test/${key}:tag-${key}`);
      }
      const agoraImages = used.filter((i) => !/^(nats|postgres):/.test(i));
      for (const i of agoraImages) expect(i).toMatch(/^registry\.test\/agora_[a-z_]+:tag-agora_[a-z_]+$/);
    },
  );

  test("the dev profile builds the dev target and syncs each service's sources", () => {
    const doc = withProfiles(["dev"]);
    for (const a of doc.build.artifacts) {
      expect(a.docker.target).toBe("dev");
      expect(a.sync.manual).toEqual([{ src: `services/${a.docker.buildArgs.SERVICE}/src/**/*.ts`, dest: "/app" }]);
    }
    expect(doc.deploy.helm.releases[0].setValues.devMode).toBe(true);
    expect(readFileSync(join(repoRoot, "Dockerfile"), "utf8")).toMatch(/^FROM build AS dev$/m);
  });

  test.each([
    [""],
    ["minikube"],
    ["minikube,dev"],
    ["minikube,istio"],
    ["istio,canary"],
    ["minikube,dev,istio,canary"],
  ])("profiles [%s]: port-forwards cover the gateway and every gRPC port (and the ingress with istio)", (names) => {
    const list = names.split(",").filter(Boolean);
    const doc = withProfiles(list);
    const forwarded = (doc.portForward as { resourceName: string; port: number; localPort: number }[]).map(
      (p) => `${p.resourceName}:${p.port}:${p.localPort}`,
    );
    for (const s of services) {
      const port = values.services[s]?.grpcPort ?? values.services[s]?.httpPort;
      expect(forwarded).toContain(`${s}:${port}:${port}`);
    }
    const ingress = "istio-ingressgateway:80:8081";
    if (list.includes("istio")) expect(forwarded).toContain(ingress);
    else expect(forwarded).not.toContain(ingress);
    expect(new Set(forwarded.map((f) => f.split(":")[2])).size).toBe(forwarded.length);
  });

  test("the profile model replaces lists like skaffold (a check of the check)", () => {
    const doc = overlay(
      { portForward: [{ port: 1 }, { port: 2 }], build: { local: { push: true } } },
      {
        portForward: [{ port: 3 }],
        build: { local: { useBuildkit: true } },
      },
    );
    expect(doc).toEqual({ portForward: [{ port: 3 }], build: { local: { push: true, useBuildkit: true } } });
  });
});

describe("Tiltfile", () => {
  test("builds every service image with its SERVICE build arg, the dev target and live update", () => {
    const loop =
      /for name in SERVICES:\s*\n\s*docker_build\(\s*\n\s*"agora-" \+ name,[\s\S]*?target="dev",\s*\n\s*build_args=\{"SERVICE": name\}/;
    expect(tiltfile).toMatch(loop);
    expect(tiltfile).toMatch(
      /live_update=\[[\s\S]*sync\("services\/" \+ name \+ "\/src", "\/app\/services\/" \+ name \+ "\/src"\)/,
    );
  });

  test("declares the same services and ports as values.yaml", () => {
    const block = /SERVICES = \{([\s\S]*?)\n\}/.exec(tiltfile)?.[1] ?? "";
    const declared = Object.fromEntries([...block.matchAll(/"([a-z-]+)": (\d+)/g)].map((m) => [m[1], Number(m[2])]));
    expect(Object.keys(declared).sort()).toEqual(services);
    for (const s of services) expect(declared[s]).toBe(values.services[s]?.grpcPort ?? values.services[s]?.httpPort);
  });

  test("deploys the chart with helm(), forwards ports and orders services after the infrastructure", () => {
    expect(tiltfile).toMatch(/k8s_yaml\(helm\("charts\/agora", name="agora", namespace=NAMESPACE, set=values\)\)/);
    expect(tiltfile).toMatch(/port_forwards=\["\{\}:\{\}"\.format\(port, port\)\]/);
    expect(tiltfile).toMatch(/resource_deps=\[\] if name == "gateway" else \["postgres", "nats"\]/);
    expect(tiltfile).toContain('"devMode=true"');
  });
});

describe("Tiltfile, run with Tilt's Starlark interpreter (tools/tilt-render)", () => {
  const flagSets = [[""], ["--istio"], ["--canary order"], ["--istio --canary order"]];
  const run = (flags: string) => tiltCalls(flags.split(" ").filter(Boolean));
  const workloads = (docs: Manifest[]) =>
    docs.filter((d) => ["Deployment", "StatefulSet"].includes(d.kind)).map((d) => d.metadata.name);

  test.each(flagSets)("tilt up -- %s: two renders give the same Postgres Secret, every password fixed", (flags) => {
    const options = tiltHelmOptions(run(flags));
    const secret = () => find(render(options), "Secret", "postgres-credentials").data as Record<string, string>;
    const first = secret();
    expect(secret()).toEqual(first);
    const databases = services.filter((s) => values.services[s]?.database);
    expect(Object.keys(first).sort()).toEqual(["postgres", ...databases].map((u) => `${u}-password`).sort());
    for (const [key, value] of Object.entries(first)) {
      const user = key.replace(/-password$/, "");
      expect([key, Buffer.from(value, "base64").toString()]).toEqual([key, `agora-dev-${user}`]);
    }
  });

  test.each(flagSets)(
    "tilt up -- %s: every image Tilt builds is used by the chart, every k8s_resource is a rendered workload",
    (flags) => {
      const calls = run(flags);
      const docs = render(tiltHelmOptions(calls));
      const repositories = images(docs).map((i) => i.replace(/:[^:/]+$/, ""));
      const built = calls.filter((c) => c.fn === "docker_build").map((c) => c.args[0] as string);
      expect(built.length).toBeGreaterThanOrEqual(services.length);
      for (const ref of built) expect(repositories).toContain(ref);
      const resources = calls.filter((c) => c.fn === "k8s_resource").map((c) => c.args[0] as string);
      expect(resources.length).toBeGreaterThan(services.length);
      for (const r of resources) expect(workloads(docs)).toContain(r);
    },
  );

  test("every value Tilt sets exists in the chart (service and password maps aside)", () => {
    const { set } = tiltHelmOptions(run("--istio --canary order"));
    const keys = Object.keys(set ?? {});
    expect(keys.length).toBeGreaterThan(3);
    for (const key of keys) {
      const parts = key.split(".");
      if (parts[0] === "services" || key.startsWith("postgres.auth.passwords.")) continue;
      let v: unknown = values;
      for (const p of parts) v = (v as Record<string, unknown>)?.[p];
      expect([key, v !== undefined]).toEqual([key, true]);
    }
  });

  test("a canary of an unknown service stops the Tiltfile with a clear message", () => {
    expect(() => run("--canary nope")).toThrow(/--canary must name a service/);
  });
});
