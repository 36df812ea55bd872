import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { parse } from "yaml";
import { find, render } from "../src/helm";
import { chartDir } from "../src/paths";
import { loadChartValues, loadValuesSchema } from "../src/values";

const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(loadValuesSchema());

/** Helm coalesces user values over values.yaml before checking the schema; so does this. */
function merged(over: Record<string, unknown>): Record<string, unknown> {
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  const merge = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...a };
    for (const [k, v] of Object.entries(b))
      out[k] = isObj(v) && isObj(out[k]) ? merge(out[k] as Record<string, unknown>, v) : v;
    return out;
  };
  return merge(loadChartValues() as Record<string, unknown>, over);
}

function errorsOf(values: unknown): string[] {
  return validate(values) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

test("values.yaml satisfies values.schema.json", () => {
  expect(errorsOf(loadChartValues())).toEqual([]);
});

test.each(readdirSync(join(chartDir, "ci")))("ci/%s satisfies the schema once merged", (file) => {
  expect(errorsOf(merged(parse(readFileSync(join(chartDir, "ci", file), "utf8"))))).toEqual([]);
});

describe("the schema rejects", () => {
  test.each([
    ["an unknown top-level key", { istioo: { enabled: true } }],
    ["an unknown service key", { services: { order: { grpcPrt: 1 } } }],
    ["a port out of range", { services: { order: { grpcPort: 70000 } } }],
    ["a canary weight over 100", { services: { order: { canary: { enabled: true, weight: 150 } } } }],
    ["a lower-case method in the graph", { services: { order: { calls: { catalog: ["batchGetProducts"] } } } }],
    ["a retry policy of 5 attempts", { istio: { retries: { attempts: 5 } } }],
    ["a bad duration", { istio: { timeout: "ten seconds" } }],
    ["a service with both gRPC and HTTP ports", { services: { catalog: { httpPort: 8081 } } }],
    ["a bad log level", { serviceDefaults: { logLevel: "verbose" } }],
    ["a non-URL-safe password", { postgres: { auth: { passwords: { order: "p@ss/word" } } } }],
  ])("%s", (_what, over) => {
    expect(errorsOf(merged(over)).length).toBeGreaterThan(0);
  });
});

test("every key of values.yaml is described by the schema (nothing slips through additionalProperties)", () => {
  const schema = loadValuesSchema() as Record<string, unknown>;
  const missing: string[] = [];
  const walk = (value: unknown, s: Record<string, unknown> | undefined, path: string): void => {
    if (!s || typeof value !== "object" || value === null || Array.isArray(value)) return;
    const props = (s.properties ?? {}) as Record<string, Record<string, unknown>>;
    const addl = s.additionalProperties as Record<string, unknown> | boolean | undefined;
    for (const [k, v] of Object.entries(value)) {
      const sub = props[k] ?? (typeof addl === "object" ? addl : undefined);
      if (!sub) missing.push(`${path}${k}`);
      else walk(v, sub, `${path}${k}.`);
    }
  };
  walk(loadChartValues(), schema, "");
  expect(missing).toEqual([]);
});

test("helm refuses to render without the external servers it needs", () => {
  expect(() => render({ set: { "postgres.enabled": false, "postgres.auth.existingSecret": "agora-db" } })).toThrow(
    /postgres.external.host is required/,
  );
  expect(() => render({ set: { "nats.enabled": false } })).toThrow(/nats.external.url is required/);
});

test("with external Postgres the chart never invents passwords: it wants existingSecret or every service's password", () => {
  const external = { "postgres.enabled": false, "postgres.external.host": "db.example" };
  const databases = Object.entries(loadChartValues().services)
    .filter(([, s]) => s.database)
    .map(([name]) => name);
  expect(databases.length).toBeGreaterThan(5);
  expect(() => render({ set: external })).toThrow(
    `postgres.enabled=false (external Postgres) needs the services' real passwords: set postgres.auth.existingSecret to a Secret with the keys <service>-password, or set postgres.auth.passwords.<service> for ${[...databases].sort().join(", ")} (generated`,
  );
  const some = Object.fromEntries(databases.slice(1).map((s) => [`postgres.auth.passwords.${s}`, `pw-${s}`]));
  expect(() => render({ set: { ...external, ...some } })).toThrow(new RegExp(`for ${databases[0]} \\(generated`));
  const all = { ...some, [`postgres.auth.passwords.${databases[0]}`]: "pw-first" };
  const secret = find(render({ set: { ...external, ...all } }), "Secret", "postgres-credentials");
  expect(Object.keys(secret.data).sort()).toEqual(databases.map((s) => `${s}-password`).sort());
  expect(render({ set: { ...external, "postgres.auth.existingSecret": "agora-db" } }).map((d) => d.kind)).not.toContain(
    "Secret",
  );
});

test('Flagger for the gateway wants real ingress host names (Istio rejects "*" on a mesh-bound VirtualService)', () => {
  expect(() => render({ set: { "istio.enabled": true, "services.gateway.flagger.enabled": true } })).toThrow(
    /services\.gateway\.flagger\.enabled: .*Istio rejects the host "\*"; set istio\.ingress\.hosts/,
  );
  const withHosts = render({ valuesFiles: [join(chartDir, "ci", "flagger-values.yaml")] });
  expect(find(withHosts, "Canary", "gateway").spec.service.hosts).toEqual(["shop.agora.test"]);
});
