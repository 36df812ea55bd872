import { exitCodeFor, parseCli, parseDuration, UsageError } from "../src/cli";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["10m", 600_000],
    ["1h", 3_600_000],
    ["1m30s", 90_000],
    ["2.5s", 2500],
    ["45", 45_000],
  ])("%s is %d ms", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(["", "ten", "10 minutes", "5x", "1m30", "-5s"])("refuses %j", (text) => {
    expect(() => parseDuration(text, "duration")).toThrow(UsageError);
  });
});

describe("parseCli", () => {
  it("has defaults that run against the local gateway", () => {
    const cli = parseCli([]);
    if (cli === "help") throw new Error("unexpected help");
    expect(cli.load).toMatchObject({
      mode: "http",
      target: "http://127.0.0.1:8080",
      rate: 10,
      arrival: "poisson",
      durationMs: 60_000,
      warmupMs: 5000,
      users: 50,
      connections: 10_000,
      follow: "stream",
      until: "terminal",
      grpc: {
        catalog: "127.0.0.1:50051",
        inventory: "127.0.0.1:50052",
        order: "127.0.0.1:50053",
        identity: "127.0.0.1:50056",
      },
    });
    expect([...cli.load.flows.keys()]).toEqual(["browse", "view-product", "register-login", "place-order"]);
    expect(cli.json).toBe(false);
    expect(cli.maxErrorRate).toBeUndefined();
    expect(Number.isInteger(cli.load.seed)).toBe(true);
  });

  it("reads the Kubernetes Job's command line and the gRPC mode", () => {
    const job = parseCli(["--target", "http://gateway:8080", "--rate", "20", "--duration", "10m"]);
    if (job === "help") throw new Error("unexpected help");
    expect(job.load).toMatchObject({ target: "http://gateway:8080", rate: 20, durationMs: 600_000 });

    const grpc = parseCli([
      "--grpc",
      "--order",
      "order:50051",
      "--flows",
      "place-order=1",
      "--until",
      "confirmed",
      "--json-out",
      "/tmp/r.json",
      "--max-error-rate",
      "0.01",
      "--seed",
      "5",
      "--products",
      "a, b",
    ]);
    if (grpc === "help") throw new Error("unexpected help");
    expect(grpc.load.mode).toBe("grpc");
    expect(grpc.load.grpc.order).toBe("order:50051");
    expect(grpc.load.grpc.catalog).toBe("127.0.0.1:50051");
    expect([...grpc.load.flows]).toEqual([["place-order", 1]]);
    expect(grpc.load.until).toBe("confirmed");
    expect(grpc.load.seed).toBe(5);
    expect(grpc.load.products).toEqual(["a", "b"]);
    expect(grpc.jsonOut).toBe("/tmp/r.json");
    expect(grpc.maxErrorRate).toBe(0.01);
    expect(parseCli(["--help"])).toBe("help");
  });

  it.each([
    [["--rate", "0"], /--rate: "0" must be a positive number/],
    [["--rate", "fast"], /--rate/],
    [["--users", "1.5"], /--users: "1.5" must be a positive integer/],
    [["--duration", "0s"], /--duration must be longer than 0/],
    [["--arrival", "burst"], /--arrival: "burst" must be one of poisson, constant/],
    [["--follow", "sse"], /--follow: "sse" must be one of stream, poll, none/],
    [["--flows", "checkout=1"], /--flows: unknown flow "checkout"/],
    [["--target", "gateway:8080"], /--target must be http:\/\/ or https:\/\//],
    [["--target", "not a url"], /--target: "not a url" is not a URL/],
    [["--grpc", "--order", "order"], /--order: "order" must be host:port/],
    [["--max-error-rate", "5"], /fraction between 0 and 1/],
    [["--frobnicate"], /Unknown option '--frobnicate'/],
    [["extra"], /Unexpected argument 'extra'/],
  ])("refuses %j", (argv, message) => {
    expect(() => parseCli(argv)).toThrow(message);
    expect(() => parseCli(argv)).toThrow(UsageError);
  });
});

describe("exitCodeFor", () => {
  it("is 0 for load errors unless --max-error-rate is exceeded", () => {
    expect(exitCodeFor(0.5, undefined)).toBe(0);
    expect(exitCodeFor(0.01, 0.01)).toBe(0);
    expect(exitCodeFor(0.0101, 0.01)).toBe(1);
    expect(exitCodeFor(0.001, 0)).toBe(1);
  });
});
