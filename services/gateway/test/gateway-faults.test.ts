import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { registryFromDescriptorSet } from "../src/descriptors";
import { registerDescriptorService } from "./support/descriptor-server";
import { type BuiltDescriptorSet, buildDescriptorSet } from "./support/descriptor-set";
import { spawnGatewayProcess } from "./support/gateway-process";
import { registerJwksStandIn, type StandInServer, startGrpcServer } from "./support/grpc-stand-ins";

// The faulty build of a canary demo for the gateway: FAULT_ERROR_RATE and FAULT_DELAY_MS in the
// environment of the gateway process (as the canary CLI and the chart's canary env set them) reach the
// kit's fault injection for every API request, while the probes and the OpenAPI document stay healthy.

describe("the gateway with FAULT_ERROR_RATE / FAULT_DELAY_MS", () => {
  let descriptorSet: BuiltDescriptorSet;
  let echo: StandInServer;
  let identity: StandInServer;
  let greetings = 0;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    descriptorSet = buildDescriptorSet(join(__dirname, "fixtures/gatewaytest"), "agora/gatewaytest");
    const service = registryFromDescriptorSet(readFileSync(descriptorSet.path)).getService(
      "agora.gatewaytest.v1.EchoService",
    );
    if (!service) throw new Error("EchoService missing");
    echo = await startGrpcServer((server) =>
      registerDescriptorService(server, service, {
        Greet: async (request) => {
          greetings++;
          return { greeting: `Hello ${request.name}` };
        },
      }),
    );
    identity = await startGrpcServer((server) => registerJwksStandIn(server, () => []));
  }, 30_000);

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await echo?.stop();
    await identity?.stop();
    descriptorSet?.remove();
  });

  /** The gateway process with the given fault settings; resolves with its URL once it is ready. */
  async function startGateway(faults: Record<string, string>): Promise<string> {
    const gateway = await spawnGatewayProcess({
      DESCRIPTOR_SET_PATH: descriptorSet.path,
      DOWNSTREAM_ADDRS: `gatewaytest=${echo.address}`,
      IDENTITY_ADDR: identity.address,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
      ...faults,
    });
    children.push(gateway.child);
    return gateway.url;
  }

  it("FAULT_ERROR_RATE=1 fails every API request with 503 UNAVAILABLE before any downstream call", async () => {
    const url = await startGateway({ FAULT_ERROR_RATE: "1" });
    const before = greetings;
    for (let i = 0; i < 5; i++) {
      const response = await fetch(`${url}/v1/test/greetings/Ada`);
      expect(response.status).toBe(503);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error).toMatchObject({ code: "UNAVAILABLE", message: "injected fault (FAULT_ERROR_RATE)" });
    }
    expect(greetings).toBe(before);
    for (const path of ["/readyz", "/healthz", "/openapi.json"])
      expect((await fetch(`${url}${path}`)).status).toBe(200);
  }, 30_000);

  it("FAULT_DELAY_MS delays API requests, not the probes", async () => {
    const url = await startGateway({ FAULT_DELAY_MS: "400" });
    let started = Date.now();
    const response = await fetch(`${url}/v1/test/greetings/Ada`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ greeting: "Hello Ada" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    started = Date.now();
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect(Date.now() - started).toBeLessThan(400);
  }, 30_000);

  it("without the variables nothing is injected", async () => {
    const url = await startGateway({});
    const response = await fetch(`${url}/v1/test/greetings/Ada`);
    expect(response.status).toBe(200);
  }, 30_000);
});
