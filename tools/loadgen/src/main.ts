#!/usr/bin/env node
import { writeFileSync } from "node:fs";
import { exitCodeFor, parseCli, UsageError, usage } from "./cli";
import { formatProgress, formatReport } from "./report";
import { runLoad } from "./runner";

export { type CliOptions, parseCli, parseDuration } from "./cli";
export type { FlowReport, OrderReport, Report, StepReport } from "./report";
export { formatReport } from "./report";
export { type LoadOptions, type RunHooks, runLoad } from "./runner";

/** Runs the CLI with `argv` (without node and the script) and resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  let cli: ReturnType<typeof parseCli>;
  try {
    cli = parseCli(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`agora-loadgen: ${error.message}\nRun with --help for the options.\n`);
    return 2;
  }
  if (cli === "help") {
    process.stdout.write(usage);
    return 0;
  }

  const stop = new AbortController();
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stop.signal.aborted) {
      process.stderr.write(`\n${signal}: no new flows; waiting for the running ones (again to cut them off)\n`);
      stop.abort();
    } else abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const tty = process.stderr.isTTY === true;
  let progressShown = false;
  let lastLogged = 0;
  const clearProgress = () => {
    if (progressShown) process.stderr.write("\r\x1b[2K");
    progressShown = false;
  };
  try {
    const report = await runLoad(cli.load, {
      stop: stop.signal,
      abort: abort.signal,
      onNotice: (message) => {
        clearProgress();
        process.stderr.write(`${message}\n`);
      },
      onProgress: cli.quiet
        ? undefined
        : (progress) => {
            const line = formatProgress(progress);
            if (tty) {
              process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 200) - 1)}`);
              progressShown = true;
            } else if (progress.elapsedMs - lastLogged >= 10_000) {
              // Not a terminal (a Kubernetes Job's log): one line every ten seconds.
              lastLogged = progress.elapsedMs;
              process.stderr.write(`${line}\n`);
            }
          },
    });
    clearProgress();
    const text = formatReport(report);
    const json = `${JSON.stringify(report, null, 2)}\n`;
    if (cli.json) {
      process.stderr.write(`${text}\n`);
      process.stdout.write(json);
    } else process.stdout.write(`${text}\n`);
    if (cli.jsonOut) writeFileSync(cli.jsonOut, json);
    const code = exitCodeFor(report.totals.errorRate, cli.maxErrorRate);
    if (code !== 0) {
      process.stderr.write(
        `agora-loadgen: error rate ${(report.totals.errorRate * 100).toFixed(2)} % is over --max-error-rate ${(
          (cli.maxErrorRate ?? 0) * 100
        ).toFixed(2)} %\n`,
      );
    }
    return code;
  } catch (error) {
    clearProgress();
    process.stderr.write(`agora-loadgen: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
      // Anything still open (a server that keeps a stream alive) must not keep a finished run waiting.
      setTimeout(() => process.exit(code), 2000).unref();
    },
    (error: unknown) => {
      process.stderr.write(`agora-loadgen: ${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(2);
    },
  );
}
