#!/usr/bin/env node
import { resolve } from "node:path";
import { servicesTable, tryCommands } from "./banner";
import { parseUpArguments, upUsage } from "./command-line";
import { databaseUrlsFromEnv, type LocalSystem, startLocalSystem } from "./local-system";
import { discoverServices } from "./service-catalog";

const repoRoot = resolve(__dirname, "../../..");

async function main(): Promise<void> {
  let options: ReturnType<typeof parseUpArguments>;
  try {
    options = parseUpArguments(process.argv.slice(2), process.env, repoRoot);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${upUsage}\n`);
    process.exit(2);
  }
  if (options.help) {
    process.stdout.write(`${upUsage}\n`);
    return;
  }
  let databaseUrls: Record<string, string>;
  try {
    databaseUrls = databaseUrlsFromEnv(
      process.env,
      discoverServices(repoRoot).map((service) => service.name),
    );
  } catch (error) {
    process.stderr.write(`agora up: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const colour = process.stdout.isTTY === true;
  let system: LocalSystem | undefined;
  let stopping = false;
  // Ctrl-C while starting: startLocalSystem stops what it already started, gracefully, and rejects.
  const starting = new AbortController();
  const shutdown = () => {
    if (stopping) {
      process.stderr.write("\nsecond interrupt: killing everything\n");
      system?.kill();
      process.exit(1);
    }
    stopping = true;
    process.stderr.write("\nstopping Agora (Ctrl-C again to kill)…\n");
    if (!system) {
      starting.abort();
      return;
    }
    system.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);

  process.stdout.write(
    `Starting Agora: ${options.postgresUrl ? `databases on ${options.postgresUrl}` : "embedded databases"}, ` +
      `${options.natsUrl ? `NATS at ${options.natsUrl}` : "its own nats-server"}, data in ${options.dataDir}${options.reset ? " (reset)" : ""}\n`,
  );
  try {
    system = await startLocalSystem({
      repoRoot,
      dataDir: options.dataDir,
      reset: options.reset,
      natsUrl: options.natsUrl,
      postgresUrl: options.postgresUrl,
      databaseUrls,
      otelEndpoint: options.otelEndpoint,
      only: options.only,
      colour,
      signal: starting.signal,
    });
  } catch (error) {
    if (starting.signal.aborted) process.exit(0);
    throw error;
  }
  const health = await system.health();
  process.stdout.write(
    `\nAgora is up (NATS ${system.natsUrl}).\n\n${servicesTable(system.services, health)}\n\nTry:\n${tryCommands(system.services)}\n\n` +
      "Logs follow. Ctrl-C stops everything; the next start keeps the data (--reset starts clean).\n\n",
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`agora up: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
