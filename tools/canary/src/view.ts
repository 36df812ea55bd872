import type { RolloutEvent } from "./rollout";

/** Something to write progress to: a terminal (rewrites its last line) or a plain log. */
export interface Output {
  write(text: string): void;
  isTTY?: boolean;
}

function bar(weight: number, width = 20): string {
  const filled = Math.round((weight / 100) * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(weight).padStart(3)}%`;
}

const pct = (n: number | undefined): string => (n === undefined ? "   n/a" : `${(n * 100).toFixed(2)}%`);
const ms = (n: number | undefined): string => (n === undefined ? "n/a" : `${n.toFixed(0)} ms`);

/**
 * The live progress view: one line per event; on a terminal the countdown updates in place.
 * Returns the event handler to give runCanary.
 */
export function progressView(out: Output, now: () => Date = () => new Date()): (e: RolloutEvent) => void {
  let transient = false;
  const line = (text: string): void => {
    if (transient) out.write("\r\x1b[2K");
    transient = false;
    out.write(`${now().toISOString().slice(11, 19)} ${text}\n`);
  };
  return (e) => {
    switch (e.type) {
      case "started":
        line(`canary ${e.canary} ${e.created ? "started" : "found"} with image ${e.image}`);
        break;
      case "weight":
        line(`step ${e.step}/${e.steps} ${bar(e.weight)} of the traffic to the canary`);
        break;
      case "waiting":
        if (out.isTTY) {
          out.write(`\r\x1b[2K  ${bar(e.weight)} gate in ${e.remainingSeconds}s`);
          transient = true;
        }
        break;
      case "gate":
        line(
          `  gate ${e.result.verdict.toUpperCase()}: ${e.result.requests.toFixed(0)} requests, success ${pct(e.result.successRate)}, p99 ${ms(e.result.p99Ms)} (${e.result.reason})`,
        );
        break;
      case "rolled-back":
        line(`ROLLED BACK at ${e.weight}%: ${e.reason}; all traffic is on the stable version`);
        break;
      case "promoting":
        line(`promoting ${e.image} to the stable Deployment`);
        break;
      case "promoted":
        line(`PROMOTED ${e.image}: the stable version runs it with 100% of the traffic`);
        break;
    }
  };
}
