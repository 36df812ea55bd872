import { readFileSync } from "node:fs";

/** CPU time and resident memory of a process, from /proc (Linux). */
export interface ProcessSample {
  cpuSeconds: number;
  rssMiB: number;
  at: number;
}

const ticksPerSecond = 100; // USER_HZ on Linux

/** Reads /proc/<pid>/stat and /proc/<pid>/status; undefined when the process is gone. */
export function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    return { cpuSeconds: (utime + stime) / ticksPerSecond, rssMiB: Math.round(rssKiB / 102.4) / 10, at: Date.now() };
  } catch {
    return undefined;
  }
}

/** CPU use (in cores, 1.0 = one core busy) between two samples, and the later RSS. */
export function usageBetween(first: ProcessSample, last: ProcessSample): { cpuCores: number; rssMiB: number } {
  const seconds = Math.max(0.001, (last.at - first.at) / 1000);
  return { cpuCores: Math.round(((last.cpuSeconds - first.cpuSeconds) / seconds) * 100) / 100, rssMiB: last.rssMiB };
}

/** Peak RSS over a series of samples. */
export function peakRss(samples: readonly ProcessSample[]): number {
  return Math.max(0, ...samples.map((sample) => sample.rssMiB));
}
