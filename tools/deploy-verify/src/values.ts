import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { chartDir } from "./paths";

/** One service entry of the chart's values. */
export interface ServiceValues {
  enabled?: boolean;
  image: { repository: string; tag?: string };
  grpcService?: string;
  grpcPort?: number;
  httpPort?: number;
  metricsPort: number;
  database?: boolean;
  nats?: boolean;
  seedsDemoData?: boolean;
  calls?: Record<string, string[]>;
  env?: Record<string, string>;
}

/** The parts of values.yaml the checks read. */
export interface ChartValues {
  services: Record<string, ServiceValues>;
  istio: { trustDomain: string; ingress: { principals: string[] } };
  // biome-ignore lint/suspicious/noExplicitAny: the rest is checked by values.schema.json.
  [key: string]: any;
}

/** The chart's default values.yaml. */
export function loadChartValues(): ChartValues {
  return parse(readFileSync(join(chartDir, "values.yaml"), "utf8")) as ChartValues;
}

/** The chart's values.schema.json. */
export function loadValuesSchema(): object {
  return JSON.parse(readFileSync(join(chartDir, "values.schema.json"), "utf8")) as object;
}

/** Port a service listens on for its main protocol (gRPC, or HTTP for the gateway). */
export function mainPort(s: ServiceValues): number {
  const port = s.grpcPort ?? s.httpPort;
  if (port === undefined) throw new Error("service without grpcPort or httpPort");
  return port;
}

/** Environment name of a service's address: order-history → ORDER_HISTORY_ADDR. */
export function addrEnv(service: string): string {
  return `${service.replace(/-/g, "_").toUpperCase()}_ADDR`;
}
