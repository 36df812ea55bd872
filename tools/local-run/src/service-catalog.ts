import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** How a service runs locally, from the "agora" block of its package.json. */
export interface LocalService {
  name: string;
  directory: string;
  /** Compiled entry point (dist/main.js). */
  entry: string;
  /** gRPC port; absent for the HTTP gateway. */
  grpcPort?: number;
  /** HTTP port (the gateway). */
  httpPort?: number;
  metricsPort: number;
  /** Whether it owns a database. */
  database: boolean;
  /** Services it calls; their addresses are passed as <NAME>_ADDR. */
  downstreams: string[];
  /** Extra environment for the local run (demo data and the like). */
  localEnv: Record<string, string>;
}

interface AgoraBlock {
  grpcPort?: number;
  httpPort?: number;
  metricsPort?: number;
  database?: boolean;
  downstreams?: string[];
  localEnv?: Record<string, string>;
}

/**
 * Every service under `services/` that declares an "agora" block in its package.json — which is all a
 * new service needs to join the local run (tools/new-service writes it).
 */
export function discoverServices(repoRoot: string): LocalService[] {
  const servicesDir = join(repoRoot, "services");
  const found: LocalService[] = [];
  for (const name of readdirSync(servicesDir).sort()) {
    const manifest = join(servicesDir, name, "package.json");
    if (!existsSync(manifest)) continue;
    const block = (JSON.parse(readFileSync(manifest, "utf8")) as { agora?: AgoraBlock }).agora;
    if (!block) continue;
    if (block.metricsPort === undefined || (block.grpcPort === undefined && block.httpPort === undefined)) {
      throw new Error(`${manifest}: the "agora" block needs metricsPort and grpcPort or httpPort`);
    }
    found.push({
      name,
      directory: join(servicesDir, name),
      entry: join(servicesDir, name, "dist", "main.js"),
      grpcPort: block.grpcPort,
      httpPort: block.httpPort,
      metricsPort: block.metricsPort,
      database: block.database ?? false,
      downstreams: block.downstreams ?? [],
      localEnv: block.localEnv ?? {},
    });
  }
  const names = new Set(found.map((service) => service.name));
  for (const service of found) {
    for (const downstream of service.downstreams) {
      if (!names.has(downstream)) throw new Error(`${service.name} calls ${downstream}, which is not a service here`);
    }
  }
  return found;
}

/** "order-history" → "ORDER_HISTORY_ADDR". */
export function addressVariable(service: string): string {
  return `${service.toUpperCase().replace(/-/g, "_")}_ADDR`;
}

/** "order-history" → "ORDER_HISTORY_DATABASE_URL": the runner's way to give one service a database of its own. */
export function databaseUrlVariable(service: string): string {
  return `${service.toUpperCase().replace(/-/g, "_")}_DATABASE_URL`;
}

/**
 * Variables that configure one service process, never all of them: the runner sets them per service,
 * so a value in the runner's own environment (a DATABASE_URL exported for `./agora run`, say) must not
 * leak into every child — nine services on one database would share one outbox and one inbox.
 */
export const perServiceVariables = ["DATABASE_URL", "PGLITE_DIR", "GRPC_PORT", "HTTP_PORT", "METRICS_PORT"] as const;

/** Services in start order: downstreams before their callers (the gateway, calling everyone, last). */
export function startOrder(services: readonly LocalService[]): LocalService[] {
  const byName = new Map(services.map((service) => [service.name, service]));
  const ordered: LocalService[] = [];
  const visiting = new Set<string>();
  const visit = (service: LocalService) => {
    if (ordered.includes(service)) return;
    if (visiting.has(service.name)) throw new Error(`dependency cycle through ${service.name}`);
    visiting.add(service.name);
    for (const downstream of service.downstreams) visit(byName.get(downstream) as LocalService);
    visiting.delete(service.name);
    ordered.push(service);
  };
  for (const service of services) visit(service);
  return ordered;
}
