import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { chartDir } from "../src/paths";

// The helm test pod runs charts/agora/files/health-check.js; here it runs against real servers.
const script = require(join(chartDir, "files/health-check.js")) as {
  decodeStatus(buf: Buffer): number;
  main(targets: string[]): Promise<number>;
};

let server: grpc.Server;
let grpcPort = 0;
let http: HttpServer;
let httpPort = 0;
const status: Record<string, number> = { "": 1 };

beforeAll(async () => {
  process.env.HEALTH_ATTEMPTS = "1";
  jest.spyOn(console, "log").mockImplementation(() => undefined);
  server = new grpc.Server();
  server.register(
    "/grpc.health.v1.Health/Check",
    (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const s = status[""] ?? 0;
      cb(null, s === 0 ? Buffer.alloc(0) : Buffer.from([0x08, s]));
      void call;
    },
    (b: Buffer) => b,
    (b: Buffer) => b,
    "unary",
  );
  grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
  http = createServer((req, res) => {
    res.statusCode = req.url === "/readyz" ? 200 : 503;
    res.end();
  });
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  httpPort = (http.address() as AddressInfo).port;
});

afterAll(async () => {
  server.forceShutdown();
  await new Promise((r) => http.close(r));
});

test("decodes HealthCheckResponse", () => {
  expect(script.decodeStatus(Buffer.from([0x08, 0x01]))).toBe(1);
  expect(script.decodeStatus(Buffer.from([0x08, 0x02]))).toBe(2);
  expect(script.decodeStatus(Buffer.alloc(0))).toBe(0);
});

test("passes when every target is healthy", async () => {
  status[""] = 1;
  await expect(script.main([`grpc://127.0.0.1:${grpcPort}`, `http://127.0.0.1:${httpPort}/readyz`])).resolves.toBe(0);
});

test("fails on NOT_SERVING, on an unreachable server and on an HTTP error", async () => {
  status[""] = 2;
  await expect(script.main([`grpc://127.0.0.1:${grpcPort}`])).resolves.toBe(1);
  status[""] = 1;
  process.env.HEALTH_DEADLINE_MS = "500";
  await expect(script.main(["grpc://127.0.0.1:1"])).resolves.toBe(1);
  await expect(script.main([`http://127.0.0.1:${httpPort}/healthz`])).resolves.toBe(1);
});
