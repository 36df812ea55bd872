import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timeByLibrary, topFunctions } from "../src/cpu-profile";
import { sampleProcess, usageBetween } from "../src/process-usage";
import { latencyHistogram, markdownTable, summarize } from "../src/report";

describe("benchmark helpers", () => {
  it("summarizes an HDR histogram in milliseconds", () => {
    const histogram = latencyHistogram();
    for (let i = 1; i <= 100; i++) histogram.recordValue(i * 1000);
    const summary = summarize(histogram);
    expect(summary).toMatchObject({ count: 100 });
    // HDR keeps 3 significant digits.
    expect(summary.p50).toBeCloseTo(50, 0);
    expect(summary.p99).toBeCloseTo(99, 0);
    expect(summary.max).toBeCloseTo(100, 0);
  });

  it("renders Markdown tables", () => {
    expect(markdownTable(["a", "b"], [[1, "x"]])).toBe("| a | b |\n| --- | --- |\n| 1 | x |");
  });

  it("reads CPU time and RSS of a live process and computes cores used", () => {
    // Tests run beside other packages' tests on two cores, so how much CPU this loop gets varies:
    // compare /proc's reading with the process's own account of the same interval instead.
    const ownBefore = process.cpuUsage();
    const first = sampleProcess(process.pid);
    const until = Date.now() + 300;
    while (Date.now() < until) Math.sqrt(Math.random());
    const last = sampleProcess(process.pid);
    const own = process.cpuUsage(ownBefore);
    expect(first?.rssMiB).toBeGreaterThan(10);
    const [from, to] = [first as NonNullable<typeof first>, last as NonNullable<typeof last>];
    const ownSeconds = (own.user + own.system) / 1e6;
    expect(ownSeconds).toBeGreaterThan(0.02);
    // /proc counts in 10 ms ticks.
    expect(Math.abs(to.cpuSeconds - from.cpuSeconds - ownSeconds)).toBeLessThanOrEqual(0.03);
    const usage = usageBetween(from, to);
    const expectedCores = (to.cpuSeconds - from.cpuSeconds) / ((to.at - from.at) / 1000);
    expect(usage.cpuCores).toBeCloseTo(expectedCores, 1);
    expect(usage.cpuCores).toBeGreaterThan(0);
    expect(sampleProcess(2 ** 22 + 12345)).toBeUndefined();
  });

  it("ranks functions by self time across CPU profiles", () => {
    const dir = mkdtempSync(join(tmpdir(), "agora-profiles-"));
    try {
      const node = (id: number, functionName: string, hitCount: number) => ({
        id,
        callFrame: { functionName, url: "file:///repo/services/order/dist/x.js", lineNumber: id },
        hitCount,
      });
      writeFileSync(join(dir, "a.cpuprofile"), JSON.stringify({ nodes: [node(1, "hot", 30), node(2, "cold", 10)] }));
      writeFileSync(join(dir, "b.cpuprofile"), JSON.stringify({ nodes: [node(1, "hot", 10)] }));
      const top = topFunctions(dir, 2);
      expect(top[0]).toMatchObject({ function: "hot", selfPercent: 80, where: "services/order/dist/x.js:2" });
      expect(top[1]).toMatchObject({ function: "cold", selfPercent: 20 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("charges busy time to the innermost library frame, native work included, idle left out", () => {
    const dir = mkdtempSync(join(tmpdir(), "bench-libraries-"));
    const frame = (functionName: string, url = "") => ({ functionName, url, lineNumber: 0 });
    try {
      const nodes = [
        { id: 1, callFrame: frame("(root)"), children: [2, 3, 6, 7, 8] },
        { id: 2, callFrame: frame("(idle)"), hitCount: 100 },
        { id: 3, callFrame: frame("handler", "file:///repo/services/order/dist/x.js"), hitCount: 10, children: [4] },
        { id: 4, callFrame: frame("write", "file:///repo/node_modules/postgres/cjs/src/connection.js"), children: [5] },
        { id: 5, callFrame: frame("writeBuffer"), hitCount: 30 },
        { id: 6, callFrame: frame("(garbage collector)"), hitCount: 5 },
        { id: 7, callFrame: frame("emit", "node:events"), hitCount: 5 },
        { id: 8, callFrame: frame("parse", "file:///repo/node_modules/@grpc/grpc-js/build/src/x.js"), hitCount: 50 },
      ];
      writeFileSync(join(dir, "CPU.1.cpuprofile"), JSON.stringify({ nodes }));
      expect(timeByLibrary(dir)).toEqual([
        { library: "@grpc/grpc-js", busyPercent: 50 },
        { library: "postgres", busyPercent: 30 },
        { library: "services/order", busyPercent: 10 },
        { library: "garbage collector", busyPercent: 5 },
        { library: "Node.js itself", busyPercent: 5 },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
