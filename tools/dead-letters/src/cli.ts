import type { DeadLetter } from "@agora/service-kit";

/** What the command line asks for. */
export type Command =
  | { kind: "list"; service?: string; json: boolean }
  | { kind: "redrive"; sequences: number[]; all: boolean; service?: string }
  | { kind: "help" };

export const usage = `Usage: agora-dead-letters <command> [options]

Commands:
  list [--service NAME] [--json]          dead letters, oldest first (all services unless --service)
  redrive SEQUENCE... [--service NAME]    publish them again to their original subject, then remove them
  redrive --all [--service NAME]          the same for every dead letter (of one service)

Environment: NATS_URL (default nats://127.0.0.1:4222), NATS_SUBJECT_PREFIX (default empty).`;

/** Parses argv (without node and the script). Throws an Error with a message for bad input. */
export function parseArguments(argv: readonly string[]): Command {
  const [command, ...rest] = argv;
  let service: string | undefined;
  let json = false;
  let all = false;
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const argument = rest[i] as string;
    if (argument === "--service") {
      service = rest[++i];
      if (!service || !/^[a-z][a-z0-9-]*$/.test(service))
        throw new Error("--service needs a service name such as inventory");
    } else if (argument === "--json") json = true;
    else if (argument === "--all") all = true;
    else if (argument.startsWith("--")) throw new Error(`unknown option ${argument}`);
    else positional.push(argument);
  }
  switch (command) {
    case "list":
      if (positional.length > 0) throw new Error("list takes no arguments besides --service and --json");
      return { kind: "list", service, json };
    case "redrive": {
      const sequences = positional.map((value) => {
        const sequence = Number(value);
        if (!Number.isSafeInteger(sequence) || sequence <= 0) throw new Error(`not a dead-letter sequence: ${value}`);
        return sequence;
      });
      if (all === sequences.length > 0) throw new Error("redrive needs either sequences or --all");
      return { kind: "redrive", sequences, all, service };
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      return { kind: "help" };
    default:
      throw new Error(`unknown command ${command}`);
  }
}

/** A readable table of dead letters. */
export function formatDeadLetters(letters: readonly DeadLetter[]): string {
  if (letters.length === 0) return "no dead letters";
  const rows = letters.map((letter) => [
    String(letter.sequence),
    letter.deadLetteredAt.replace("T", " ").replace(/\.\d+Z$/, "Z"),
    `${letter.service}/${letter.consumer}`,
    letter.eventType,
    letter.aggregateId,
    String(letter.attempts),
    letter.error,
  ]);
  const header = ["SEQ", "WHEN", "CONSUMER", "EVENT", "AGGREGATE", "TRIES", "ERROR"];
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
