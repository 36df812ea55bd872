import type { RunningLocalService } from "./local-system";
import { markdownishTable } from "./table";

/** The table of services with ports and health that the runner prints once everything is up. */
export function servicesTable(services: readonly RunningLocalService[], health: Record<string, string>): string {
  return markdownishTable(
    ["service", "endpoint", "metrics", "health"],
    services.map((service) => [
      service.name,
      service.grpcPort !== undefined ? `grpc ${service.endpoint}` : `http ${service.endpoint}`,
      `http://127.0.0.1:${service.metricsPort}/metrics`,
      health[service.name] ?? "?",
    ]),
  );
}

/** Ready-to-paste commands for the services that are running. */
export function tryCommands(services: readonly RunningLocalService[]): string {
  const find = (name: string) => services.find((service) => service.name === name);
  const lines: string[] = [];
  const catalog = find("catalog");
  if (catalog) {
    lines.push(
      `grpcurl -plaintext ${catalog.endpoint} list`,
      `grpcurl -plaintext ${catalog.endpoint} describe agora.catalog.v1.CatalogService`,
      `grpcurl -plaintext -d '{"page":{"pageSize":3}}' ${catalog.endpoint} agora.catalog.v1.CatalogService/ListProducts`,
    );
  }
  const inventory = find("inventory");
  if (inventory) {
    lines.push(
      `grpcurl -plaintext -d '{"skus":["AG-COF-001"]}' ${inventory.endpoint} agora.inventory.v1.InventoryService/GetStock`,
    );
  }
  const gateway = find("gateway");
  if (gateway) {
    const base = gateway.endpoint.replace("127.0.0.1", "localhost");
    lines.push(
      `curl -s ${base}/v1/products?category=coffee`,
      `curl -s ${base}/v1/products/espresso-machine`,
      `curl -s ${base}/openapi.json | head -c 300`,
    );
  }
  return lines.join("\n");
}
