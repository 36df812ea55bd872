import type { Amount } from "@agora/service-kit";
import type { CardDetails } from "./cards";

/** Why a processor declined an authorization (the proto's DeclineReason without the prefix). */
export type DeclineCode = "GENERIC" | "INSUFFICIENT_FUNDS" | "EXPIRED_CARD";

/** How an authorization ended at the processor. */
export type AuthorizationOutcome =
  | { readonly approved: true; readonly reference: string }
  | { readonly approved: false; readonly decline: DeclineCode; readonly reference: string };

/** A money movement the processor confirmed. */
export interface ProcessorReceipt {
  /** The processor's reference for the movement. */
  readonly reference: string;
}

/** Common to every processor call. */
export interface ProcessorCall {
  /**
   * The same key returns the same result, however often it is sent — how payment makes retries safe:
   * "authorize:<order id>", "capture:<payment id>", "void:<payment id>", "refund:<refund id>".
   */
  readonly idempotencyKey: string;
  /** Aborted when the payment service stops waiting (PROCESSOR_TIMEOUT_MS, or the caller gave up). */
  readonly signal: AbortSignal;
}

/**
 * A card processor (acquirer / payment provider), as payment uses it. The built-in
 * {@link ProcessorSimulator} implements it; a real provider's adapter would too. Implementations answer
 * a decline as an outcome and throw {@link ProcessorUnavailableError} for failures that may pass.
 */
export interface CardProcessor {
  /** Registers a card and returns the processor's token for it; the number and CVC stay with the processor. */
  registerCard(card: CardDetails): Promise<string>;
  /** Holds `amount` on the card behind `processorToken`. */
  authorize(call: ProcessorCall & { processorToken: string; amount: Amount }): Promise<AuthorizationOutcome>;
  /** Takes the held amount. */
  capture(call: ProcessorCall & { authorizationReference: string; amount: Amount }): Promise<ProcessorReceipt>;
  /** Cancels the hold. */
  void(call: ProcessorCall & { authorizationReference: string }): Promise<ProcessorReceipt>;
  /** Pays back part of a captured amount. */
  refund(call: ProcessorCall & { authorizationReference: string; amount: Amount }): Promise<ProcessorReceipt>;
}

/** The processor could not be reached or failed in a way that may pass: nothing happened, retry later. */
export class ProcessorUnavailableError extends Error {
  override name = "ProcessorUnavailableError";
}
