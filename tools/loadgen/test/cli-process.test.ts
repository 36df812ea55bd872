import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StandInShop } from "./stand-in-shop";

const entry = join(__dirname, "../dist/main.js");

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [entry, ...args], { env: { ...process.env, NODE_OPTIONS: "" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("the agora-loadgen command (dist/main.js)", () => {
  const shop = new StandInShop({ searchFailEvery: 2 });
  const dir = mkdtempSync(join(tmpdir(), "loadgen-cli-"));
  beforeAll(() => shop.start());
  afterAll(async () => {
    await shop.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints the table, writes the JSON report and exits 0 despite load errors", async () => {
    const out = join(dir, "report.json");
    const result = await run([
      "--target",
      shop.url,
      "--rate",
      "20",
      "--duration",
      "1s",
      "--warmup",
      "0",
      "--arrival",
      "constant",
      "--json-out",
      out,
    ]);
    expect(result.stderr).toContain("catalog: 25 products, 3 categories");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Agora load test against ${shop.url}`);
    expect(result.stdout).toMatch(/^flow \/ step\s+count/m);
    const report = JSON.parse(readFileSync(out, "utf8"));
    expect(report.schema).toBe("agora-loadgen/v1");
    expect(report.totals.offered).toBe(20);
    expect(report.errors.length).toBeGreaterThan(0);
  }, 30_000);

  it("prints JSON only on stdout with --json, and exits 1 over --max-error-rate", async () => {
    const result = await run([
      "--target",
      shop.url,
      "--rate",
      "20",
      "--duration",
      "1s",
      "--warmup",
      "0",
      "--flows",
      "browse=1",
      "--json",
      "--max-error-rate",
      "0.05",
    ]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.totals.errorRate).toBeGreaterThan(0.05);
    expect(result.stderr).toContain("Agora load test against");
    expect(result.stderr).toMatch(/error rate \d+\.\d+ % is over --max-error-rate 5\.00 %/);
  }, 30_000);

  it("exits 2 with a message for bad options and for a target that is not there", async () => {
    const bad = await run(["--rate=-3"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('agora-loadgen: --rate: "-3" must be a positive number');
    const absent = await run(["--target", "http://127.0.0.1:9", "--wait-ready", "0"]);
    expect(absent.code).toBe(2);
    expect(absent.stderr).toMatch(/agora-loadgen: cannot read the catalog from http:\/\/127\.0\.0\.1:9/);
    const help = await run(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--max-error-rate R");
  }, 30_000);

  it("stops on SIGINT, lets the running flows finish and reports the shortened window", async () => {
    const child = spawn(
      process.execPath,
      [entry, "--target", shop.url, "--rate", "20", "--duration", "1m", "--warmup", "0", "--json", "--quiet"],
      { env: { ...process.env, NODE_OPTIONS: "" } },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes("catalog:")) setTimeout(() => child.kill("SIGINT"), 1000);
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.window.interrupted).toBe(true);
    expect(report.window.seconds).toBeGreaterThan(0.5);
    expect(report.window.seconds).toBeLessThan(5);
    expect(report.totals.incomplete).toBe(0);
  }, 30_000);
});
