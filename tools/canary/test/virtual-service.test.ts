import { withCanarySubset, withCanaryWeight } from "../src/virtual-service";
import { orderObjects } from "./fakes";

const [, dr, vs] = orderObjects() as [never, never, never];
const header = { name: "x-agora-canary", value: "v2" };

test("weights are split on every weighted route and always sum to 100", () => {
  const out = withCanaryWeight(vs, "v1", "v2", 25, header);
  for (const r of out.spec.http) {
    const sum = r.route.reduce((a: number, d: { weight: number }) => a + d.weight, 0);
    expect(sum).toBe(100);
  }
  const def = out.spec.http.find((r: { name: string }) => r.name === "default");
  expect(
    def.route.map((d: { destination: { subset: string }; weight: number }) => [d.destination.subset, d.weight]),
  ).toEqual([
    ["v1", 75],
    ["v2", 25],
  ]);
  expect(def.timeout).toBe("10s");
});

test("a header route to the canary is added first and kept on later steps", () => {
  const once = withCanaryWeight(vs, "v1", "v2", 10, header);
  expect(once.spec.http[0]).toEqual(
    expect.objectContaining({
      name: "canary-header",
      match: [{ headers: { "x-agora-canary": { exact: "v2" } } }],
      route: [expect.objectContaining({ weight: 100, destination: expect.objectContaining({ subset: "v2" }) })],
    }),
  );
  const twice = withCanaryWeight(once, "v1", "v2", 50, header);
  expect(twice.spec.http.filter((r: { name: string }) => r.name === "canary-header")).toHaveLength(1);
  expect(twice.spec.http[0].route[0].weight).toBe(100);
});

test("bad weights and routes without the stable subset are refused", () => {
  expect(() => withCanaryWeight(vs, "v1", "v2", 120, header)).toThrow(/not 0..100/);
  expect(() => withCanaryWeight(vs, "v0", "v2", 10, header)).toThrow(/no destination with subset v0/);
});

test("the DestinationRule gains a v2 subset once", () => {
  const out = withCanarySubset(withCanarySubset(dr, "v2"), "v2");
  expect(out.spec.subsets).toEqual([
    { name: "v1", labels: { version: "v1" } },
    { name: "v2", labels: { version: "v2" } },
  ]);
});
