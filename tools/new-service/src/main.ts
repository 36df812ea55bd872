#!/usr/bin/env node
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { generateService, nextSteps, RefusedError } from "./generate";
import { findRoot } from "./repo";

export { type GenerateOptions, type GenerateResult, generateService, nextSteps, RefusedError } from "./generate";

const usage = `npm run new-service -- <name> [--service Name] [--root DIR] [--skip-contracts]

Scaffolds services/<name> from its proto definition in proto/agora/<context>/v1/ (context = the name
without dashes: order-history → agora.orderhistory.v1): workspace package, main.ts wiring, a typed
handler per RPC answering UNIMPLEMENTED, schema and first migration, a test, and the registration in
the local runner, charts/agora/values.yaml, skaffold.yaml and the Tiltfile.

  --service Name      the service to scaffold when the package defines several
  --root DIR          the repository (default: found from the current folder)
  --skip-contracts    do not regenerate and rebuild packages/contracts first
`;

/** Runs the command with `argv` (without node and the script); resolves with the exit code. */
export function main(argv: string[]): number {
  let values: { service?: string; root?: string; "skip-contracts"?: boolean; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        service: { type: "string" },
        root: { type: "string" },
        "skip-contracts": { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
    }));
  } catch (error) {
    process.stderr.write(`new-service: ${error instanceof Error ? error.message : String(error)}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  if (positionals.length !== 1) {
    process.stderr.write(`new-service: give exactly one service name\n\n${usage}`);
    return 2;
  }
  try {
    const root = values.root ? resolve(values.root) : findRoot(process.env.INIT_CWD ?? process.cwd());
    const result = generateService({
      root,
      name: positionals[0] as string,
      serviceName: values.service,
      skipContracts: values["skip-contracts"],
      log: (message) => process.stderr.write(`${message}\n`),
    });
    process.stdout.write(`${nextSteps(result)}\n`);
    return 0;
  } catch (error) {
    const refused = error instanceof RefusedError;
    process.stderr.write(
      `new-service: ${refused ? "refused: " : ""}${error instanceof Error ? error.message : String(error)}\n`,
    );
    return refused ? 1 : 2;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
