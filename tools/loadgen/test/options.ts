import type { LoadOptions } from "../src/runner";
import { defaultGrpcAddresses } from "../src/shop-api";

/** Load options for a short test run; override what the test is about. */
export function testOptions(overrides: Partial<LoadOptions>): LoadOptions {
  return {
    mode: "http",
    target: "http://127.0.0.1:1",
    grpc: defaultGrpcAddresses,
    rate: 50,
    arrival: "constant",
    durationMs: 2000,
    warmupMs: 0,
    flows: new Map([
      ["browse", 1],
      ["view-product", 1],
      ["register-login", 1],
      ["place-order", 1],
    ]),
    users: 10,
    timeoutMs: 5000,
    connections: 256,
    maxInFlight: 10_000,
    drainTimeoutMs: 10_000,
    waitReadyMs: 0,
    products: [],
    seed: 1234,
    pageSize: 20,
    maxLines: 3,
    follow: "stream",
    until: "terminal",
    pollIntervalMs: 20,
    orderTimeoutMs: 10_000,
    ...overrides,
  };
}
