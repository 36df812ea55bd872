import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { find, render } from "../src/helm";
import { chartDir } from "../src/paths";

// `helm template` never prints NOTES.txt, so a copy of the chart renders it through `tpl` into a
// ConfigMap; the real helm and the stand-in both can.
function renderNotes(set: Record<string, string | boolean | number> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "agora-notes-"));
  try {
    cpSync(chartDir, join(dir, "agora"), { recursive: true });
    cpSync(join(chartDir, "templates/NOTES.txt"), join(dir, "agora/notes.tpl.txt"));
    writeFileSync(
      join(dir, "agora/templates/zz-notes.yaml"),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rendered-notes\ndata:\n  notes: {{ tpl (.Files.Get "notes.tpl.txt") . | toJson }}\n',
    );
    return find(render({ chart: join(dir, "agora"), set }), "ConfigMap", "rendered-notes").data.notes as string;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("NOTES.txt tells how to reach the gateway and grpcurl a service", () => {
  const notes = renderNotes();
  expect(notes).toContain("kubectl -n agora port-forward svc/gateway 8080:8080");
  expect(notes).toContain("grpcurl -plaintext 127.0.0.1:50051 list");
  expect(notes).toContain("helm test agora -n agora");
  expect(notes).toMatch(/gRPC ports: catalog=50051 identity=50056 inventory=50052/);
  expect(notes).not.toContain("istio-ingressgateway");
});

test("NOTES.txt mentions the ingress and the canary when they are on", () => {
  const notes = renderNotes({
    "istio.enabled": true,
    "services.order.canary.enabled": true,
    "services.order.canary.weight": 10,
  });
  expect(notes).toContain("svc/istio-ingressgateway");
  expect(notes).toMatch(/Canary: order runs v2 next to the stable version with 10% of the traffic/);
});
