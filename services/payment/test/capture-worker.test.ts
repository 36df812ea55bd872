import { setTimeout as sleep } from "node:timers/promises";
import { FailedPreconditionError, UnavailableError } from "@agora/service-kit";
import pino from "pino";
import { type CaptureQueue, captureRetryDelayMs, captureRound, captureWorker } from "../src/capture-worker";
import type { CaptureRequestRow, PaymentStatusName } from "../src/db/schema";
import { OneAtATime } from "../src/one-at-a-time";
import { captureStanding } from "../src/payment-rules";
import type { CaptureResult, PaymentView } from "../src/payments";

const request = (paymentId: string, attempts = 1): CaptureRequestRow => ({
  paymentId,
  orderId: `order-of-${paymentId}`,
  eventId: `event-${paymentId}`,
  requestedAt: new Date(),
  attempts,
  nextAttemptAt: new Date(),
  lastError: null,
});

/** A queue in memory that records what the worker did with each request. */
function fakeQueue(due: CaptureRequestRow[]) {
  const done: string[] = [];
  const retried: Array<{ paymentId: string; error: string; delayMs: number }> = [];
  const leases: number[] = [];
  const queue: CaptureQueue = {
    claimDue: async (limit, leaseMs) => {
      leases.push(leaseMs);
      return due.splice(0, limit);
    },
    remove: async (paymentId) => {
      done.push(paymentId);
    },
    retryLater: async (paymentId, error, delayMs) => {
      retried.push({ paymentId, error, delayMs });
    },
  };
  return { queue, done, retried, leases };
}

function logger() {
  const lines: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { log, lines };
}

const options = (log: pino.Logger) => ({
  intervalMs: 20,
  retry: { initialMs: 1000, maxMs: 60_000 },
  leaseMs: 9000,
  logger: log,
});

const outcome = (result: CaptureResult, status: PaymentStatusName) => ({
  result,
  payment: { status } as PaymentView,
});

describe("capture worker", () => {
  it("backs off exponentially from CAPTURE_RETRY_INITIAL_MS up to CAPTURE_RETRY_MAX_MS", () => {
    const retry = { initialMs: 1000, maxMs: 60_000 };
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((attempts) => captureRetryDelayMs(attempts, retry))).toEqual([
      1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000,
    ]);
    expect(captureRetryDelayMs(10_000, retry)).toBe(60_000);
    expect(captureRetryDelayMs(0, retry)).toBe(1000);
    // A cap below the first delay does not shorten it.
    expect(captureRetryDelayMs(3, { initialMs: 500, maxMs: 100 })).toBe(500);
  });

  it("removes a captured request, and drops one whose payment is captured already, voided, declined or gone", async () => {
    const { queue, done, retried, leases } = fakeQueue([
      request("p-authorized"),
      request("p-captured"),
      request("p-voided"),
      request("p-none"),
    ]);
    const { log, lines } = logger();
    const results: Record<string, { result: CaptureResult; payment?: PaymentView }> = {
      "p-authorized": outcome("captured", "CAPTURED"),
      "p-captured": outcome("already captured", "REFUNDED"),
      "p-voided": outcome("not capturable", "VOIDED"),
      "p-none": { result: "no payment" },
    };
    const more = await captureRound(queue, async (paymentId) => results[paymentId] as never, options(log));
    expect(more).toBe(false);
    expect(leases).toEqual([9000]);
    expect(done.sort()).toEqual(["p-authorized", "p-captured", "p-none", "p-voided"]);
    expect(retried).toEqual([]);
    const messages = lines.map((line) => line.msg);
    expect(messages).toContain("payment captured: shipment dispatched");
    expect(messages).toContain("shipment dispatched: payment was captured already");
    expect(messages).toContain("capture request dropped: the payment cannot be captured (not capturable); skipped");
    expect(messages).toContain("capture request dropped: the payment cannot be captured (no payment); skipped");
  });

  it("keeps a request whose capture failed and schedules it again with backoff; drops one voided meanwhile", async () => {
    const { queue, done, retried } = fakeQueue([request("p-flaky", 3), request("p-raced", 1)]);
    const { log, lines } = logger();
    await captureRound(
      queue,
      async (paymentId) => {
        if (paymentId === "p-flaky") throw new UnavailableError("the card processor did not answer within 2000 ms");
        throw new FailedPreconditionError(`payment ${paymentId} became VOIDED while the capture was under way`);
      },
      options(log),
    );
    expect(retried).toEqual([
      { paymentId: "p-flaky", error: "the card processor did not answer within 2000 ms", delayMs: 4000 },
    ]);
    expect(done).toEqual(["p-raced"]);
    expect(lines.find((line) => line.msg === "capture failed; will try again")).toMatchObject({
      level: 40,
      retry_ms: 4000,
    });
    expect(lines.find((line) => line.msg === "capture request dropped: the payment cannot be captured")).toMatchObject({
      level: 40,
    });
  });

  it("looks again at once after a full batch, and runs as a background task until stopped", async () => {
    const { queue, done } = fakeQueue(Array.from({ length: 25 }, (_, index) => request(`p-${index}`)));
    const { log } = logger();
    const capture = async () => outcome("captured", "CAPTURED");
    expect(await captureRound(queue, capture, options(log))).toBe(true);
    expect(done).toHaveLength(10);
    const task = captureWorker(queue, capture, options(log));
    task.start();
    const deadline = Date.now() + 5000;
    while (done.length < 25 && Date.now() < deadline) await sleep(10);
    await task.stop();
    expect(done).toHaveLength(25);
  });
});

describe("capture standing", () => {
  it("tells what a capture can do with each status", () => {
    expect(captureStanding("AUTHORIZED")).toBe("capturable");
    for (const status of ["CAPTURED", "PARTIALLY_REFUNDED", "REFUNDED"] as const) {
      expect(captureStanding(status)).toBe("captured");
    }
    expect(captureStanding("VOIDED")).toBe("not capturable");
    expect(captureStanding("DECLINED")).toBe("not capturable");
  });
});

describe("one at a time per key", () => {
  it("runs tasks of one key one after another, in order, and tasks of other keys at once", async () => {
    const queue = new OneAtATime();
    const log: string[] = [];
    const task =
      (name: string, ms: number, fail = false) =>
      async () => {
        log.push(`${name} start`);
        await sleep(ms);
        log.push(`${name} end`);
        if (fail) throw new Error(`${name} failed`);
        return name;
      };
    const results = await Promise.allSettled([
      queue.run("a", task("a1", 40, true)),
      queue.run("a", task("a2", 10)),
      queue.run("b", task("b1", 10)),
    ]);
    expect(results.map((result) => (result.status === "fulfilled" ? result.value : String(result.reason)))).toEqual([
      "Error: a1 failed",
      "a2",
      "b1",
    ]);
    // b1 ran while a1 did; a2 waited for a1 (which failed) and still ran.
    expect(log.indexOf("b1 start")).toBeLessThan(log.indexOf("a1 end"));
    expect(log.indexOf("a2 start")).toBeGreaterThan(log.indexOf("a1 end"));
    await sleep(0);
    expect(queue.busyKeys).toBe(0);
  });
});
