import { booleanFromEnv, ConfigError, grpcAddress, loadConfig, z } from "../src";

const ports = { grpcPort: 50051, metricsPort: 9451 };

describe("loadConfig", () => {
  it("applies defaults for every base variable", () => {
    const config = loadConfig({}, ports, {});
    expect(config).toMatchObject({
      GRPC_PORT: 50051,
      METRICS_PORT: 9451,
      LOG_LEVEL: "info",
      SHUTDOWN_TIMEOUT_MS: 10_000,
      FAULT_ERROR_RATE: 0,
    });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it("reads and converts values, treating empty strings as unset", () => {
    const config = loadConfig(
      { GRPC_PORT: "6000", DATABASE_URL: "postgres://u:p@db:5432/catalog", LOG_LEVEL: "", SEED: "true" },
      ports,
      { SEED: booleanFromEnv.default(false) },
    );
    expect(config.GRPC_PORT).toBe(6000);
    expect(config.DATABASE_URL).toBe("postgres://u:p@db:5432/catalog");
    expect(config.LOG_LEVEL).toBe("info");
    expect(config.SEED).toBe(true);
  });

  it("names every bad variable, its problem and the value given", () => {
    let error: unknown;
    try {
      loadConfig({ GRPC_PORT: "seventy", DATABASE_URL: "mysql://x", INVENTORY_ADDR: "inventory" }, ports, {
        INVENTORY_ADDR: grpcAddress,
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toMatch(/GRPC_PORT: .*\(got "seventy"\)/);
    expect(message).toMatch(/DATABASE_URL: must be a postgres:\/\/ URL \(got "mysql:\/\/x"\)/);
    expect(message).toMatch(/INVENTORY_ADDR: must be host:port/);
    expect((error as ConfigError).problems).toHaveLength(3);
  });

  it("reports a required service variable that is missing", () => {
    expect(() => loadConfig({}, ports, { CATALOG_ADDR: grpcAddress })).toThrow(/CATALOG_ADDR/);
  });

  it("rejects out-of-range fault injection", () => {
    expect(() => loadConfig({ FAULT_ERROR_RATE: "1.5" }, ports, {})).toThrow(/FAULT_ERROR_RATE/);
  });

  it("accepts custom zod schemas", () => {
    const config = loadConfig({ DISPATCH_DELAY_MS: "250" }, ports, { DISPATCH_DELAY_MS: z.coerce.number().int() });
    expect(config.DISPATCH_DELAY_MS).toBe(250);
  });
});
