import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { AuthorizationOutcome, CardProcessor, ProcessorCall, ProcessorReceipt } from "./card-processor";
import { ProcessorUnavailableError } from "./card-processor";
import type { CardDetails } from "./cards";

/** What a simulated card does at authorization. */
export type CardBehaviour = "approve" | "decline" | "insufficient_funds" | "timeout" | "transient_failure";

/**
 * The documented test cards (as payment providers publish them). Any other number that passes the
 * Luhn check approves.
 */
export const testCards: ReadonlyArray<{ number: string; behaviour: CardBehaviour; description: string }> = [
  { number: "4242424242424242", behaviour: "approve", description: "approves" },
  { number: "4000000000000002", behaviour: "decline", description: "is declined (generic decline)" },
  { number: "4000000000009995", behaviour: "insufficient_funds", description: "is declined for insufficient funds" },
  {
    number: "4000000000000259",
    behaviour: "timeout",
    description: "times out at the processor: it never answers within PROCESSOR_TIMEOUT_MS",
  },
  {
    number: "4000000000000341",
    behaviour: "transient_failure",
    description: "fails transiently (UNAVAILABLE) on the first two authorizations of an order, then approves",
  },
];

/** Authorizations of an order that fail before a transient_failure card approves. */
export const transientFailuresPerOrder = 2;

/** The simulated behaviour of a card number (digits only). */
export function behaviourOf(number: string): CardBehaviour {
  return testCards.find((card) => card.number === number)?.behaviour ?? "approve";
}

const tokenPattern = /^sim_(approve|decline|insufficient_funds|timeout|transient_failure)_[0-9a-f]{16}$/;

/** The behaviour a simulator token stands for; undefined for a token the simulator did not issue. */
export function behaviourOfToken(token: string): CardBehaviour | undefined {
  return tokenPattern.exec(token)?.[1] as CardBehaviour | undefined;
}

/**
 * The simulator's own memory, kept in payment's database so it survives restarts: attempts per
 * idempotency key (the transient card fails twice per order, not twice per process) and the result
 * of each key (the same key answers the same, as real providers do).
 */
export interface SimulatorMemory {
  /** Counts one more attempt of `key`; returns the attempts so far (this one included) and the stored result. */
  countAttempt(key: string): Promise<{ attempts: number; result?: unknown }>;
  /** Stores the result of `key` unless one is stored already; returns the stored one. */
  remember<T>(key: string, result: T): Promise<T>;
}

function reference(kind: string): string {
  return `sim_${kind}_${randomBytes(8).toString("hex")}`;
}

/**
 * A card processor simulator behind the {@link CardProcessor} interface, with the test cards of
 * {@link testCards}. The card's behaviour travels in its token ("sim_transient_failure_…"), so the
 * payment service stores no number. Captures, voids and refunds always succeed.
 */
export class ProcessorSimulator implements CardProcessor {
  constructor(
    private readonly memory: SimulatorMemory,
    private readonly options: { hangMs: number },
  ) {}

  async registerCard(card: CardDetails): Promise<string> {
    return `sim_${behaviourOf(card.number)}_${randomBytes(8).toString("hex")}`;
  }

  async authorize(call: Parameters<CardProcessor["authorize"]>[0]): Promise<AuthorizationOutcome> {
    const behaviour = behaviourOfToken(call.processorToken);
    if (!behaviour) throw new Error("the simulator did not issue this card token");
    const { attempts, result } = await this.memory.countAttempt(call.idempotencyKey);
    if (result) return result as AuthorizationOutcome;
    switch (behaviour) {
      case "timeout":
        // Hang like an unresponsive acquirer; the payment service gives up first.
        await sleep(this.options.hangMs, undefined, { signal: call.signal });
        throw new ProcessorUnavailableError(`no answer from the simulated acquirer after ${this.options.hangMs} ms`);
      case "transient_failure":
        if (attempts <= transientFailuresPerOrder) {
          throw new ProcessorUnavailableError(
            `simulated transient failure (attempt ${attempts}; the first ${transientFailuresPerOrder} fail)`,
          );
        }
        return this.memory.remember<AuthorizationOutcome>(call.idempotencyKey, {
          approved: true,
          reference: reference("auth"),
        });
      case "decline":
        return this.memory.remember<AuthorizationOutcome>(call.idempotencyKey, {
          approved: false,
          decline: "GENERIC",
          reference: reference("decline"),
        });
      case "insufficient_funds":
        return this.memory.remember<AuthorizationOutcome>(call.idempotencyKey, {
          approved: false,
          decline: "INSUFFICIENT_FUNDS",
          reference: reference("decline"),
        });
      case "approve":
        return this.memory.remember<AuthorizationOutcome>(call.idempotencyKey, {
          approved: true,
          reference: reference("auth"),
        });
    }
  }

  capture(call: Parameters<CardProcessor["capture"]>[0]): Promise<ProcessorReceipt> {
    return this.receipt(call, "capture");
  }

  void(call: Parameters<CardProcessor["void"]>[0]): Promise<ProcessorReceipt> {
    return this.receipt(call, "void");
  }

  refund(call: Parameters<CardProcessor["refund"]>[0]): Promise<ProcessorReceipt> {
    return this.receipt(call, "refund");
  }

  private async receipt(call: ProcessorCall, kind: string): Promise<ProcessorReceipt> {
    const { result } = await this.memory.countAttempt(call.idempotencyKey);
    if (result) return result as ProcessorReceipt;
    return this.memory.remember<ProcessorReceipt>(call.idempotencyKey, { reference: reference(kind) });
  }
}
