#!/usr/bin/env node
import { EventNaming, listDeadLetters, redriveDeadLetter } from "@agora/service-kit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { formatDeadLetters, parseArguments, usage } from "./cli";

async function main(): Promise<number> {
  let command: ReturnType<typeof parseArguments>;
  try {
    command = parseArguments(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage}\n`);
    return 2;
  }
  if (command.kind === "help") {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  const url = process.env.NATS_URL || "nats://127.0.0.1:4222";
  const naming = new EventNaming(process.env.NATS_SUBJECT_PREFIX ?? "");
  const connection = await connect({ servers: url, timeout: 5000 }).catch((error: Error) => {
    throw new Error(`cannot reach NATS at ${url}: ${error.message}`);
  });
  try {
    const jsm = await jetstreamManager(connection);
    if (command.kind === "list") {
      const letters = await listDeadLetters(jsm, naming, command.service);
      process.stdout.write(`${command.json ? JSON.stringify(letters, null, 2) : formatDeadLetters(letters)}\n`);
      return 0;
    }
    const sequences = command.all
      ? (await listDeadLetters(jsm, naming, command.service)).map((letter) => letter.sequence)
      : command.sequences;
    const js = jetstream(connection);
    let failures = 0;
    for (const sequence of sequences) {
      try {
        const letter = await redriveDeadLetter(js, jsm, naming, sequence);
        process.stdout.write(
          `re-drove ${sequence}: ${letter.eventType} ${letter.aggregateId} → ${letter.originalSubject}\n`,
        );
      } catch (error) {
        failures++;
        process.stderr.write(`could not re-drive ${sequence}: ${(error as Error).message}\n`);
      }
    }
    if (sequences.length === 0) process.stdout.write("no dead letters to re-drive\n");
    return failures === 0 ? 0 : 1;
  } finally {
    await connection.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`agora-dead-letters: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
