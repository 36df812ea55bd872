import type { Db } from "@agora/service-kit";
import { eq, sql } from "drizzle-orm";
import { simulatorOperations } from "./db/schema";
import type { SimulatorMemory } from "./processor-simulator";

/** The simulator's memory in payment's database (table simulator_operations). */
export function databaseSimulatorMemory(db: Db<{ simulatorOperations: typeof simulatorOperations }>): SimulatorMemory {
  return {
    async countAttempt(key) {
      const [row] = await db
        .insert(simulatorOperations)
        .values({ idempotencyKey: key, attempts: 1 })
        .onConflictDoUpdate({
          target: simulatorOperations.idempotencyKey,
          set: { attempts: sql`${simulatorOperations.attempts} + 1`, updatedAt: sql`now()` },
        })
        .returning({ attempts: simulatorOperations.attempts, result: simulatorOperations.result });
      return { attempts: row?.attempts ?? 1, result: row?.result ?? undefined };
    },
    async remember(key, result) {
      // The first stored result wins when two attempts of one key race.
      await db
        .update(simulatorOperations)
        .set({
          result: sql`coalesce(${simulatorOperations.result}, ${JSON.stringify(result)}::jsonb)`,
          updatedAt: sql`now()`,
        })
        .where(eq(simulatorOperations.idempotencyKey, key));
      const [row] = await db
        .select({ result: simulatorOperations.result })
        .from(simulatorOperations)
        .where(eq(simulatorOperations.idempotencyKey, key));
      return (row?.result ?? result) as typeof result;
    },
  };
}
