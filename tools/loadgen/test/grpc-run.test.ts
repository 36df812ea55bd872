import type { Report } from "../src/report";
import { runLoad } from "../src/runner";
import { testOptions } from "./options";
import { StandInServices } from "./stand-in-services";

describe("a run against stand-in services over gRPC", () => {
  const services = new StandInServices();
  let report: Report;

  beforeAll(async () => {
    const address = await services.start();
    report = await runLoad(
      testOptions({
        mode: "grpc",
        grpc: { catalog: address, inventory: address, order: address, identity: address },
        rate: 50,
        durationMs: 2000,
      }),
    );
  }, 30_000);

  afterAll(() => services.stop());

  it("runs every flow and counts exactly the calls the services answered", () => {
    expect(report.target).toBe(
      `grpc catalog=${services.address} inventory=${services.address} order=${services.address} identity=${services.address}`,
    );
    expect(report.settings.mode).toBe("grpc");
    expect(report.totals.offered).toBe(100);
    expect(report.totals.succeeded + report.totals.failed).toBe(100);
    const browse = report.flows.browse?.steps ?? {};
    expect(services.calls("ListProducts")).toBe(
      1 + (browse["list-products"]?.requests ?? 0) + (browse["list-category"]?.requests ?? 0),
    );
    expect(services.calls("SearchProducts")).toBe(browse["search-products"]?.requests);
    expect(services.calls("GetProduct")).toBe(report.flows["view-product"]?.steps["get-product"]?.requests);
    expect(services.calls("PlaceOrder", "OK")).toBe(report.orders.placed);
    expect(services.calls("PlaceOrder", "PERMISSION_DENIED")).toBe(0);
    expect(services.calls("WatchOrder", "OK")).toBe(report.orders.placed);
  });

  it("reports gRPC status codes as errors: GetStock of every third SKU is NOT_FOUND", () => {
    const notFound = services.calls("GetStock", "NOT_FOUND");
    expect(notFound).toBeGreaterThan(0);
    expect(report.flows["view-product"]?.errors).toEqual({ "grpc:NOT_FOUND": notFound });
    expect(report.errors).toEqual([
      { code: "grpc:NOT_FOUND", count: notFound, sample: expect.stringMatching(/^sku AG-\d+: unknown$/) },
    ]);
    expect(report.flows["view-product"]?.steps["get-product"]?.failed).toBe(notFound);
  });

  it("follows orders with WatchOrder to SHIPPED and times the completion", () => {
    expect(report.orders.placed).toBeGreaterThan(10);
    expect(report.orders.outcomes).toEqual({ ORDER_STATUS_SHIPPED: report.orders.placed });
    expect(report.orders.toConfirmedMs.min).toBeGreaterThanOrEqual(30);
    expect(report.orders.toTerminalMs.min).toBeGreaterThanOrEqual(60);
  });
});
