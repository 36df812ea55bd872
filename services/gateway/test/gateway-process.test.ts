import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { waitUntil } from "@agora/testing";
import { registryFromDescriptorSet } from "../src/descriptors";
import { registerDescriptorService } from "./support/descriptor-server";
import { type BuiltDescriptorSet, buildDescriptorSet } from "./support/descriptor-set";
import { spawnGatewayProcess } from "./support/gateway-process";
import { registerJwksStandIn, type StandInServer, startGrpcServer } from "./support/grpc-stand-ins";

// The gateway as its own OS process (dist/main.js), as Kubernetes runs it, in front of a stand-in
// EchoService (what it calls does not matter here: the test is about startup and graceful shutdown).

describe("the gateway process", () => {
  let descriptorSet: BuiltDescriptorSet;
  let echo: StandInServer;
  let identity: StandInServer;
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let url: string;

  beforeAll(async () => {
    descriptorSet = buildDescriptorSet(join(__dirname, "fixtures/gatewaytest"), "agora/gatewaytest");
    const service = registryFromDescriptorSet(readFileSync(descriptorSet.path)).getService(
      "agora.gatewaytest.v1.EchoService",
    );
    if (!service) throw new Error("EchoService missing");
    echo = await startGrpcServer((server) =>
      registerDescriptorService(server, service, {
        Greet: async (request) => {
          await new Promise((resolve) => setTimeout(resolve, request.times * 100));
          return { greeting: `Hello ${request.name}` };
        },
        Tick: async function* () {
          for (let n = 1; ; n++) {
            await new Promise((resolve) => setTimeout(resolve, 50));
            yield { n };
          }
        },
      }),
    );
    identity = await startGrpcServer((server) => registerJwksStandIn(server, () => []));
    ({ url, child, exited } = await spawnGatewayProcess({
      DESCRIPTOR_SET_PATH: descriptorSet.path,
      DOWNSTREAM_ADDRS: `gatewaytest=${echo.address}`,
      IDENTITY_ADDR: identity.address,
      SHUTDOWN_DELAY_MS: "800",
    }));
  }, 30_000);

  afterAll(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
    await echo?.stop();
    await identity?.stop();
    descriptorSet?.remove();
  });

  it("on SIGTERM turns /readyz to 503, finishes in-flight requests, closes event streams, and exits 0 promptly", async () => {
    const stream = await fetch(`${url}/v1/test/ticks`);
    expect(stream.status).toBe(200);
    const streamText = stream.text();
    const slow = fetch(`${url}/v1/test/greetings/Ada?times=12`); // answers after 1.2 s
    await new Promise((resolve) => setTimeout(resolve, 100));

    child.kill("SIGTERM");
    const signalled = Date.now();
    await waitUntil(
      () =>
        fetch(`${url}/readyz`).then(
          (response) => response.status === 503,
          () => false,
        ),
      700,
      "/readyz 503 during the shutdown delay",
    );
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    const answered = await slow;
    expect(answered.status).toBe(200);
    expect(await answered.json()).toMatchObject({ greeting: "Hello Ada" });

    // The open stream is closed without an `end` event, so EventSource clients reconnect elsewhere.
    const text = await streamText;
    expect(text).toContain('event: message\ndata: {"n":1}');
    expect(text).not.toContain("event: end");

    expect(await exited).toBe(0);
    // Promptly: idle keep-alive connections do not hold the drain open until SHUTDOWN_TIMEOUT_MS.
    expect(Date.now() - signalled).toBeLessThan(5_000);
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  }, 20_000);
});
