// The cost of the service kit on one unary RPC: the same GetProduct handler served by a bare
// @grpc/grpc-js server and by the kit (health, reflection, access-log and metrics interceptors,
// request context, error mapping, tracing ON with spans exported over OTLP/gRPC to a local receiver),
// called by the same bare grpc-js client in the same run. Prints p50/p99 and throughput; records
// results/kit-overhead.{json,md}.
import { Writable } from "node:stream";
import { CatalogServiceService, type GetProductResponse } from "@agora/contracts/agora/catalog/v1/catalog_service";
import { defineService } from "@agora/service-kit";
import { OtlpReceiver } from "@agora/testing";
import * as grpc from "@grpc/grpc-js";
import { latencyHistogram, machine, markdownTable, summarize, writeResults } from "./report";

const response: GetProductResponse = {
  product: {
    productId: "espresso-machine",
    sku: "AG-COF-001",
    name: "Espresso Machine",
    description: "Dual-boiler espresso machine with PID temperature control.",
    category: "coffee",
    price: { currencyCode: "EUR", units: 649, nanos: 0 },
    imageUrl: "https://images.agora.example/products/espresso-machine.jpg",
    createTime: new Date("2026-01-01T00:00:00Z"),
    updateTime: new Date("2026-01-01T00:00:00Z"),
  },
};

async function bareServer(): Promise<{ address: string; stop(): void }> {
  const server = new grpc.Server();
  const unused = (_call: unknown, callback: grpc.sendUnaryData<unknown>) =>
    callback({ code: grpc.status.UNIMPLEMENTED, details: "unused" });
  server.addService(CatalogServiceService, {
    getProduct: (_call: unknown, callback: grpc.sendUnaryData<GetProductResponse>) => callback(null, response),
    listProducts: unused,
    batchGetProducts: unused,
    searchProducts: unused,
    createProduct: unused,
    updatePrice: unused,
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return { address: `127.0.0.1:${port}`, stop: () => server.forceShutdown() };
}

async function kitServer(otlpEndpoint: string): Promise<{ address: string; stop(): Promise<void> }> {
  const unused = async (): Promise<never> => {
    throw new Error("unused");
  };
  const service = defineService({
    name: "kit-bench",
    ports: { grpc: 0, metrics: 0 },
    setup: ({ bind }) => ({
      grpc: [
        bind(CatalogServiceService, {
          getProduct: async () => response,
          listProducts: unused,
          batchGetProducts: unused,
          searchProducts: unused,
          createProduct: unused,
          updatePrice: unused,
        }),
      ],
    }),
  });
  // Access log lines are formatted and written (info level), to a sink instead of the terminal.
  const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
  const running = await service.start({
    env: {
      GRPC_HOST: "127.0.0.1",
      GRPC_PORT: "0",
      METRICS_PORT: "0",
      LOG_LEVEL: "info",
      OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
    },
    logDestination: sink,
  });
  return { address: running.address, stop: () => running.stop() };
}

function call(client: grpc.Client): Promise<void> {
  const method = CatalogServiceService.getProduct;
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      { productId: "espresso-machine" },
      (error) => (error ? reject(error) : resolve()),
    ),
  );
}

async function measure(address: string, calls: number, concurrency: number) {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  for (let i = 0; i < 500; i++) await call(client);
  const histogram = latencyHistogram();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < calls) {
        const begin = performance.now();
        await call(client);
        histogram.recordValue(Math.max(1, Math.round((performance.now() - begin) * 1000)));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  client.close();
  return { calls, concurrency, perSecond: Math.round(calls / seconds), latency: summarize(histogram) };
}

async function main(): Promise<void> {
  const receiver = await OtlpReceiver.start();
  const bare = await bareServer();
  const kit = await kitServer(receiver.endpoint);
  const calls = Number(process.env.BENCH_CALLS ?? 5000);
  try {
    const rows: Array<{ server: string; concurrency: number; result: Awaited<ReturnType<typeof measure>> }> = [];
    for (const concurrency of [1, 16]) {
      // Alternate the two servers so background noise hits both alike.
      for (const [server, address] of [
        ["bare @grpc/grpc-js", bare.address],
        ["service kit (tracing on)", kit.address],
      ] as const) {
        const result = await measure(address, calls, concurrency);
        rows.push({ server, concurrency, result });
        process.stdout.write(
          `${server.padEnd(26)} c=${String(concurrency).padEnd(3)} ${String(result.perSecond).padStart(6)}/s  ` +
            `p50 ${result.latency.p50} ms  p99 ${result.latency.p99} ms\n`,
        );
      }
    }
    const markdown = `# Service kit overhead per unary RPC

The same GetProduct handler, served by a bare \`@grpc/grpc-js\` server and by the kit (health,
reflection, access-log and RED-metrics interceptors, request context, error mapping, and tracing on:
a server span per call exported over OTLP/gRPC to a receiver in the same process), called by the same
bare grpc-js client, ${calls} calls per row after 500 warm-up calls, one process, same run.
Machine: ${machine().cpus} × ${machine().cpuModel}, ${machine().node}. Run: \`npm run bench:kit\` (${machine().date}).

${markdownTable(
  ["server", "concurrent calls", "calls/s", "p50 ms", "p90 ms", "p99 ms", "max ms"],
  rows.map((row) => [
    row.server,
    row.concurrency,
    row.result.perSecond,
    row.result.latency.p50,
    row.result.latency.p90,
    row.result.latency.p99,
    row.result.latency.max,
  ]),
)}

Spans exported during the run: ${receiver.spans.length}.
`;
    writeResults("kit-overhead", { machine: machine(), rows }, markdown);
    process.stdout.write("results written to tools/bench/results/kit-overhead.{json,md}\n");
  } finally {
    bare.stop();
    await kit.stop();
    await receiver.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
