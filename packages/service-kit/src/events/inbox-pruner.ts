import { sql } from "drizzle-orm";
import type { Logger } from "pino";
import { type Database, resultRows } from "../db/database";
import { PeriodicTask } from "../periodic-task";

/** Transaction-scoped advisory lock of the pruner: one replica per database prunes at a time. */
const INBOX_PRUNE_LOCK_ID = 7_482_003;

/** Settings of {@link createInboxPruner}. */
export interface InboxPrunerOptions {
  /**
   * How long an applied event's id is kept in `agora_processed_events`. It must cover every way the
   * same event can arrive again (redelivery, replay of the stream, a re-driven dead letter): an event
   * arriving after its id was pruned is applied a second time.
   */
  retentionMs: number;
  /** Pause between rounds. Default 10 minutes. */
  intervalMs?: number;
  /** Rows deleted per statement; a full batch starts the next round at once. Default 5000. */
  batchSize?: number;
}

/**
 * The inbox's janitor, run by every service that consumes events: deletes entries of
 * `agora_processed_events` older than the retention, in batches. Replicas on one database take turns
 * through a transaction-scoped advisory lock (no connection of its own); the others skip the round.
 */
export function createInboxPruner(
  deps: { database: Database<Record<string, unknown>>; logger: Logger },
  options: InboxPrunerOptions,
): PeriodicTask {
  const batchSize = options.batchSize ?? 5000;
  return new PeriodicTask({
    name: "inbox-pruner",
    intervalMs: options.intervalMs ?? 10 * 60_000,
    logger: deps.logger,
    run: async () => {
      const cutoff = new Date(Date.now() - options.retentionMs);
      const deleted = await deps.database.db.transaction(async (tx) => {
        const [lock] = resultRows<{ locked: boolean }>(
          await tx.execute(sql`select pg_try_advisory_xact_lock(${INBOX_PRUNE_LOCK_ID}) as locked`),
        );
        if (!lock?.locked) return 0;
        return resultRows(
          await tx.execute(sql`
            delete from agora_processed_events where ctid = any(array(
              select ctid from agora_processed_events where processed_at < ${cutoff.toISOString()}::timestamptz
              limit ${batchSize}))
            returning 1 as pruned`),
        ).length;
      });
      if (deleted > 0) deps.logger.debug({ pruned: deleted }, "inbox pruned");
      return deleted === batchSize;
    },
  });
}
