import { FailedPreconditionError, type Logger, PeriodicTask } from "@agora/service-kit";
import type { CaptureRequestRow } from "./db/schema";
import type { CaptureResult, PaymentView } from "./payments";

/** Requests claimed per round; the worker looks again at once after a full batch. */
export const captureBatchSize = 10;

/** Exponential backoff between attempts of one capture request. */
export interface CaptureRetry {
  /** Delay after the first failed attempt; it doubles with every further failure… */
  readonly initialMs: number;
  /** …up to this. */
  readonly maxMs: number;
}

/** The delay before the attempt after failed attempt number `attempts` (1 = the first): doubling, capped. */
export function captureRetryDelayMs(attempts: number, retry: CaptureRetry): number {
  const cap = Math.max(retry.initialMs, retry.maxMs);
  return Math.min(cap, retry.initialMs * 2 ** Math.min(Math.max(0, attempts - 1), 40));
}

/** The capture requests as the worker uses them (src/capture-requests.ts in the service). */
export interface CaptureQueue {
  claimDue(limit: number, leaseMs: number): Promise<CaptureRequestRow[]>;
  remove(paymentId: string): Promise<void>;
  retryLater(paymentId: string, error: string, delayMs: number): Promise<void>;
}

export interface CaptureWorkerOptions {
  /** Pause between rounds that found nothing more to do. */
  readonly intervalMs: number;
  readonly retry: CaptureRetry;
  /**
   * How long a claimed request is not taken up again while its attempt runs (longer than an attempt
   * can take: PROCESSOR_TIMEOUT_MS and the database work); after a crash it is due again then.
   */
  readonly leaseMs: number;
  readonly logger: Logger;
}

/**
 * One round of the capture worker: claims due requests (a short transaction), captures each with no
 * transaction open, then removes the request (captured, captured already, or nothing to capture — a
 * voided or declined payment is dropped with a warning) or, when the capture failed, schedules the next
 * attempt with exponential backoff. Returns true after a full batch (more may be due).
 */
export async function captureRound(
  queue: CaptureQueue,
  capture: (paymentId: string) => Promise<{ result: CaptureResult; payment?: PaymentView }>,
  options: CaptureWorkerOptions,
): Promise<boolean> {
  const claimed = await queue.claimDue(captureBatchSize, options.leaseMs);
  await Promise.all(claimed.map((request) => carryOut(queue, capture, options, request)));
  return claimed.length === captureBatchSize;
}

async function carryOut(
  queue: CaptureQueue,
  capture: (paymentId: string) => Promise<{ result: CaptureResult; payment?: PaymentView }>,
  options: CaptureWorkerOptions,
  request: CaptureRequestRow,
): Promise<void> {
  const fields = {
    payment_id: request.paymentId,
    order_id: request.orderId,
    event_id: request.eventId,
    attempt: request.attempts,
  };
  let outcome: { result: CaptureResult; payment?: PaymentView };
  try {
    outcome = await capture(request.paymentId);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof FailedPreconditionError) {
      // The payment changed under the capture (voided meanwhile): there is nothing to capture.
      await queue.remove(request.paymentId);
      options.logger.warn({ ...fields, err: message }, "capture request dropped: the payment cannot be captured");
      return;
    }
    const retryMs = captureRetryDelayMs(request.attempts, options.retry);
    await queue.retryLater(request.paymentId, message, retryMs);
    options.logger.warn({ ...fields, err: message, retry_ms: retryMs }, "capture failed; will try again");
    return;
  }
  await queue.remove(request.paymentId);
  const status = { ...fields, status: outcome.payment?.status };
  switch (outcome.result) {
    case "captured":
      options.logger.info(status, "payment captured: shipment dispatched");
      break;
    case "already captured":
      options.logger.info(status, "shipment dispatched: payment was captured already");
      break;
    default:
      options.logger.warn(
        status,
        `capture request dropped: the payment cannot be captured (${outcome.result}); skipped`,
      );
  }
}

/**
 * The capture worker: a {@link PeriodicTask} running {@link captureRound} every `intervalMs`. Its only
 * state is the capture_requests table, so a request recorded before a crash is captured after the
 * restart (the first round runs at start); replicas share the work (FOR UPDATE SKIP LOCKED).
 */
export function captureWorker(
  queue: CaptureQueue,
  capture: (paymentId: string) => Promise<{ result: CaptureResult; payment?: PaymentView }>,
  options: CaptureWorkerOptions,
): PeriodicTask {
  return new PeriodicTask({
    name: "capture-worker",
    intervalMs: options.intervalMs,
    logger: options.logger,
    run: () => captureRound(queue, capture, options),
  });
}
