import { parseCli } from "../../loadgen/src/cli";
import { find, render } from "../src/helm";
import { profiles } from "../src/profiles";

// The canary gate judges p99 from Istio's istio_request_duration_milliseconds, whose standard labels
// carry no request path or gRPC method: a PromQL filter cannot leave out WatchOrder streams or the
// gateway's server-sent events, and one stream lasts from placement to shipment. So the traffic the
// chart drives during a canary follows orders by polling; this runs the Job's arguments through
// loadgen's own command-line parser.

const loadgenArgs = (): string[] => {
  const job = find(render(profiles.find((p) => p.name === "canary")), "Job", "loadgen");
  const container = job.spec.template.spec.containers[0];
  expect(container.command).toEqual(["node", "tools/loadgen/dist/main.js"]);
  return container.args as string[];
};

test("the loadgen Job targets the gateway and follows orders by polling, never by stream", () => {
  const args = loadgenArgs();
  expect(args.slice(0, 2)).toEqual(["--target", "http://gateway:8080"]);
  const cli = parseCli(args);
  if (cli === "help") throw new Error("loadgen read the chart's arguments as --help");
  expect(cli.load.follow).toBe("poll");
  expect(cli.load.pollIntervalMs).toBe(500);
  // loadgen.args (values.yaml: --rate 20 --duration 10m) come after the chart's own and still apply.
  expect(cli.load.rate).toBe(20);
  expect(cli.load.durationMs).toBe(600_000);
});
