// The whole system under load: starts Agora with the same runner as `./agora up` (each service with
// its own database on a real Postgres server, its own nats-server), runs the load generator against
// the gateway at increasing rates of "place an order and follow it to CONFIRMED", and records per
// rate the confirmed orders/s, placement→CONFIRMED latency (p50/p90/p99/max), errors, and CPU and RSS
// per service; then profiles the busiest services at the first rate that misses the bound.
// Results: results/system.{json,md}. Environment: BENCH_RATES (default "2,4,8,12,16"; raise it once the system gets faster),
// BENCH_SECONDS (measured seconds per rate, default 60), BENCH_POSTGRES_URL (default the local server),
// BENCH_PROFILE=0 to skip profiling, BENCH_NODE_OPTIONS for the services' Node flags (e.g. heap limits).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { type LocalSystem, startLocalSystem } from "@agora/local-run";
import { timeByLibrary, topFunctions } from "./cpu-profile";
import { type ProcessSample, sampleProcess, usageBetween } from "./process-usage";
import { machine, markdownTable, writeResults } from "./report";

const run = promisify(execFile);
const repoRoot = resolve(__dirname, "../../..");
const loadgen = join(repoRoot, "tools/loadgen/dist/main.js");
const portOffset = 1000;
const gateway = `http://127.0.0.1:${8080 + portOffset}`;
const boundMs = 250;

interface Usage {
  [service: string]: { cpuCores: number; rssMiB: number };
}

interface RateResult {
  rate: number;
  confirmedPerSecond: number;
  placed: number;
  confirmed: number;
  errorRate: number;
  errors: Array<{ code: string; count: number }>;
  toConfirmed: { p50: number; p90: number; p99: number; max: number };
  usage: Usage;
}

/** Node flags for every service (BENCH_NODE_OPTIONS), e.g. "--max-semi-space-size=4" to trade CPU for memory. */
const serviceNodeOptions = process.env.BENCH_NODE_OPTIONS ?? "";

const systemEnv = {
  LOG_LEVEL: "warn",
  RATE_LIMIT_MAX: "0",
  // Registration is not what is measured (the load generator signs its users in before the first
  // arrival): a cheaper scrypt only makes that preparation quick.
  PASSWORD_SCRYPT_LOG_N: "10",
  DEMO_INITIAL_STOCK: "1000000",
};

/** The services' last log lines, shown when the system does not come up. */
const recentLines: string[] = [];

async function startSystem(extraEnv: Record<string, string> = {}): Promise<{ system: LocalSystem; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), "agora-bench-"));
  const system = await startLocalSystem({
    repoRoot,
    dataDir,
    reset: true,
    postgresUrl:
      process.env.BENCH_POSTGRES_URL ?? process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    databaseSuffix: "_bench",
    portOffset,
    env: { ...systemEnv, ...extraEnv },
    writeLine: (line) => {
      recentLines.push(line);
      if (recentLines.length > 200) recentLines.shift();
    },
  }).catch((error: unknown) => {
    process.stderr.write(`${recentLines.join("\n")}\n`);
    throw error;
  });
  return { system, dataDir };
}

function pids(system: LocalSystem): Map<string, number> {
  const found = new Map<string, number>();
  for (const service of system.services) if (service.process.pid) found.set(service.name, service.process.pid);
  return found;
}

/** Samples every service now and after `body`, and returns CPU cores and RSS per service. */
async function measureUsage<T>(system: LocalSystem, body: () => Promise<T>): Promise<{ result: T; usage: Usage }> {
  const first = new Map<string, ProcessSample>();
  for (const [name, pid] of pids(system)) {
    const sample = sampleProcess(pid);
    if (sample) first.set(name, sample);
  }
  const peak = new Map<string, number>();
  const timer = setInterval(() => {
    for (const [name, pid] of pids(system)) {
      const sample = sampleProcess(pid);
      if (sample) peak.set(name, Math.max(peak.get(name) ?? 0, sample.rssMiB));
    }
  }, 1000);
  const result = await body();
  clearInterval(timer);
  const usage: Usage = {};
  for (const [name, pid] of pids(system)) {
    const start = first.get(name);
    const end = sampleProcess(pid);
    if (start && end) usage[name] = { ...usageBetween(start, end), rssMiB: Math.max(end.rssMiB, peak.get(name) ?? 0) };
  }
  return { result, usage };
}

async function loadAt(rate: number, seconds: number): Promise<Omit<RateResult, "usage">> {
  const out = join(tmpdir(), `agora-bench-${rate}-${Date.now()}.json`);
  await run(
    process.execPath,
    [
      loadgen,
      "--target",
      gateway,
      "--flows",
      "place-order=1",
      "--until",
      "confirmed",
      "--rate",
      String(rate),
      "--duration",
      `${seconds}s`,
      "--warmup",
      "5s",
      "--users",
      "50",
      "--sign-in-first",
      "--products",
      "espresso-machine,pour-over-kettle,chef-knife,headlamp,usb-c-hub",
      "--max-lines",
      "2",
      "--order-timeout",
      "30s",
      "--json-out",
      out,
      "--quiet",
    ],
    { env: { ...process.env, NODE_OPTIONS: "" }, maxBuffer: 64 * 1024 * 1024, timeout: (seconds + 120) * 1000 },
  );
  const report = JSON.parse(readFileSync(out, "utf8"));
  rmSync(out, { force: true });
  const orders = report.orders;
  return {
    rate,
    confirmedPerSecond: Math.round(orders.confirmedPerSecond * 10) / 10,
    placed: orders.placed,
    confirmed: orders.confirmed,
    errorRate: Math.round(report.totals.errorRate * 10000) / 10000,
    errors: (report.errors ?? []).map((error: { code: string; count: number }) => ({
      code: error.code,
      count: error.count,
    })),
    toConfirmed: {
      p50: orders.toConfirmedMs.p50,
      p90: orders.toConfirmedMs.p90,
      p99: orders.toConfirmedMs.p99,
      max: orders.toConfirmedMs.max,
    },
  };
}

/**
 * The system keeps up at a rate when (nearly) every order placed in the window was confirmed within
 * it, p99 placement → CONFIRMED stays within the bound, and errors stay under 1 %. (Compared with the
 * orders really placed, not the nominal rate: Poisson arrivals over a window vary by several percent.)
 */
const withinBound = (result: RateResult) =>
  result.toConfirmed.p99 <= boundMs && result.errorRate < 0.01 && result.confirmed >= result.placed * 0.99;

async function profile(rate: number, seconds: number) {
  const profileDir = mkdtempSync(join(tmpdir(), "agora-profile-"));
  const { system, dataDir } = await startSystem({
    NODE_OPTIONS: `${serviceNodeOptions} --cpu-prof --cpu-prof-dir=${profileDir}`.trim(),
  });
  let usage: Usage = {};
  try {
    ({ usage } = await measureUsage(system, () => loadAt(rate, seconds)));
  } finally {
    await system.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  // Each process wrote CPU-<timestamp>.<pid>….cpuprofile at exit; map pid → service through the run.
  const busiest = Object.entries(usage)
    .sort((a, b) => b[1].cpuCores - a[1].cpuCores)
    .slice(0, 3)
    .map(([name]) => name);
  const byService: Record<string, ReturnType<typeof topFunctions>> = {};
  const libraries: Record<string, ReturnType<typeof timeByLibrary>> = {};
  for (const service of system.services.filter((candidate) => busiest.includes(candidate.name))) {
    const pid = service.process.lastPid;
    if (pid === undefined) continue;
    const dir = mkdtempSync(join(tmpdir(), `agora-profile-${service.name}-`));
    await run("bash", ["-c", `cp ${profileDir}/*.${pid}.*.cpuprofile ${dir}/ 2>/dev/null || true`]);
    byService[service.name] = topFunctions(dir, 10);
    libraries[service.name] = timeByLibrary(dir, 10);
    rmSync(dir, { recursive: true, force: true });
  }
  rmSync(profileDir, { recursive: true, force: true });
  return { rate, usage, busiest, byService, libraries };
}

async function main(): Promise<void> {
  const rates = (process.env.BENCH_RATES ?? "2,4,8,12,16").split(",").map(Number);
  // A p99 needs a few hundred samples: 60 s is 240 orders at 4/s.
  const seconds = Number(process.env.BENCH_SECONDS ?? 60);
  process.stdout.write(`starting Agora on Postgres (ports +${portOffset})…\n`);
  const { system, dataDir } = await startSystem(serviceNodeOptions ? { NODE_OPTIONS: serviceNodeOptions } : {});
  const results: RateResult[] = [];
  let idle: Usage = {};
  try {
    await new Promise((resolve) => setTimeout(resolve, 5000));
    ({ usage: idle } = await measureUsage(system, () => new Promise((resolve) => setTimeout(resolve, 10_000))));
    process.stdout.write(`idle: ${JSON.stringify(idle)}\n`);
    for (const rate of rates) {
      const { result, usage } = await measureUsage(system, () => loadAt(rate, seconds));
      const row = { ...result, usage };
      results.push(row);
      process.stdout.write(
        `${rate}/s offered: ${row.confirmedPerSecond}/s confirmed, p50 ${row.toConfirmed.p50} ms, p99 ${row.toConfirmed.p99} ms, ` +
          `errors ${(row.errorRate * 100).toFixed(2)}% ${withinBound(row) ? "✓" : "✗"}\n`,
      );
      if (row.toConfirmed.p99 > boundMs * 8 || row.confirmedPerSecond < rate * 0.5) break;
    }
  } finally {
    await system.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const sustained = [...results].reverse().find(withinBound);
  const firstMiss = results.find((result) => !withinBound(result));
  const profiled =
    process.env.BENCH_PROFILE === "0" || !firstMiss ? undefined : await profile(firstMiss.rate, Math.min(seconds, 15));

  const services = Object.keys(idle);
  const usageTable = (usage: Usage) =>
    services
      .map((name) => `${name} ${usage[name]?.cpuCores ?? "–"} cores / ${usage[name]?.rssMiB ?? "–"} MiB`)
      .join("<br>");
  const markdown = `# System benchmark

Agora started by the local runner (the code path of \`./agora up\`) with every service on its own
database on the local Postgres 15 and its own nats-server; the load generator (another process on the
same machine) places orders through the gateway and follows each over server-sent events until
CONFIRMED. Open-model arrivals (Poisson), ${seconds} s measured per rate after 5 s warm-up, 50 customers,
orders of 1–2 lines. Machine: ${machine().cpus} × ${machine().cpuModel}, ${machine().memoryGiB} GiB, ${machine().node}.
Run: \`npm run bench\` (${machine().date})${serviceNodeOptions ? `, services started with \`NODE_OPTIONS=${serviceNodeOptions}\`` : ""}. Bound: p99 placement→CONFIRMED ≤ ${boundMs} ms, < 1 % errors.

**Sustained under the bound: ${sustained ? `${sustained.confirmedPerSecond} orders/s (offered ${sustained.rate}/s)` : "no rate met the bound"}.**
Target on this machine: 200 orders/s with every service under 150 MB RSS.

${markdownTable(
  ["offered/s", "confirmed/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "within bound"],
  results.map((result) => [
    result.rate,
    result.confirmedPerSecond,
    result.toConfirmed.p50,
    result.toConfirmed.p90,
    result.toConfirmed.p99,
    result.toConfirmed.max,
    `${(result.errorRate * 100).toFixed(2)} %${result.errors.length ? ` (${result.errors.map((error) => `${error.code}×${error.count}`).join(", ")})` : ""}`,
    withinBound(result) ? "yes" : "no",
  ]),
)}

## CPU (cores) and RSS per service

${markdownTable(
  ["service", "idle", ...results.map((result) => `at ${result.rate}/s`)],
  services.map((name) => [
    name,
    `${idle[name]?.cpuCores ?? "–"} / ${idle[name]?.rssMiB ?? "–"} MiB`,
    ...results.map((result) => `${result.usage[name]?.cpuCores ?? "–"} / ${result.usage[name]?.rssMiB ?? "–"} MiB`),
  ]),
)}

${
  profiled
    ? `## Where the time goes at ${profiled.rate}/s (V8 CPU profiles, self time)

Busiest services: ${profiled.busiest.join(", ")} (${usageTable(profiled.usage).replace(/<br>/g, "; ")}).

${Object.entries(profiled.byService)
  .map(
    ([service, functions]) =>
      `### ${service}\n\nBusy time by library (a sample counts for the innermost library frame, so the native work a library starts is charged to it):\n\n${markdownTable(
        ["busy %", "library"],
        (profiled.libraries[service] ?? []).map((entry) => [entry.busyPercent, entry.library]),
      )}\n\nFunctions by self time (idle included):\n\n${markdownTable(
        ["self %", "function", "where"],
        functions.map((entry) => [entry.selfPercent, `\`${entry.function}\``, `\`${entry.where}\``]),
      )}`,
  )
  .join("\n\n")}`
    : ""
}
`;
  writeResults(
    "system",
    {
      machine: machine(),
      nodeOptions: serviceNodeOptions,
      boundMs,
      seconds,
      idle,
      results,
      sustained: sustained?.confirmedPerSecond ?? 0,
      profiled,
    },
    markdown,
  );
  process.stdout.write(
    `sustained: ${sustained?.confirmedPerSecond ?? 0} orders/s; results in tools/bench/results/system.{json,md}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
