import { type JetStreamManager, RetentionPolicy, StorageType, type StreamConfig } from "@nats-io/jetstream";
import type { Logger } from "pino";

/** How long streams keep events: long enough to rebuild read models by replay. */
export interface StreamRetention {
  maxAgeMs: number;
}

const nanos = (ms: number) => ms * 1_000_000;

/** The settings the kit manages on a stream (everything else is left as the server has it). */
export function streamSettings(
  name: string,
  subjects: string,
  retention: StreamRetention,
): Partial<StreamConfig> & {
  name: string;
  subjects: string[];
} {
  return {
    name,
    subjects: [subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_age: nanos(retention.maxAgeMs),
    // The window in which a republished Nats-Msg-Id is dropped; it cannot exceed the stream's max age.
    duplicate_window: nanos(Math.min(2 * 60_000, retention.maxAgeMs)),

    num_replicas: 1,
  };
}

/**
 * Creates the stream, or updates it when the settings the kit manages changed. Idempotent: many
 * replicas and services (publisher and consumers) may call it at once.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  wanted: ReturnType<typeof streamSettings>,
  logger: Logger,
): Promise<void> {
  const existing = await jsm.streams.info(wanted.name).catch((error: unknown) => {
    if (error instanceof Error && /stream not found/i.test(error.message)) return undefined;
    throw error;
  });
  if (!existing) {
    try {
      await jsm.streams.add(wanted);
      logger.info({ stream: wanted.name, subjects: wanted.subjects }, "stream created");
      return;
    } catch (error) {
      // Another replica created it first; fall through and compare.
      if (!(error instanceof Error && /already in use|already exists/i.test(error.message))) throw error;
    }
  }
  const current = existing?.config ?? (await jsm.streams.info(wanted.name)).config;
  const differs =
    JSON.stringify(current.subjects) !== JSON.stringify(wanted.subjects) ||
    current.max_age !== wanted.max_age ||
    current.duplicate_window !== wanted.duplicate_window;
  if (differs) {
    await jsm.streams.update(wanted.name, {
      subjects: wanted.subjects,
      max_age: wanted.max_age,
      duplicate_window: wanted.duplicate_window,
    });
    logger.info({ stream: wanted.name }, "stream settings updated");
  }
}
