import { setTimeout as sleep } from "node:timers/promises";
import pino from "pino";
import { exactlyOneOf, InvalidArgumentError, PeriodicTask, validateSku } from "../src";

const silent = pino({ level: "silent" });

/** Polls until `predicate` holds (fails the test after `timeoutMs`). */
async function eventually(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await sleep(5);
  }
}

// Timing assertions are lower bounds (a pause happened) or "much sooner than the interval", so a
// loaded machine makes these tests slower, not flaky.
describe("PeriodicTask", () => {
  it("runs a round at start, at once again after a full batch, and after the interval otherwise", async () => {
    const rounds: number[] = [];
    let batches = 3;
    const task = new PeriodicTask({
      name: "test",
      intervalMs: 400,
      logger: silent,
      run: async () => {
        rounds.push(Date.now());
        return batches-- > 0;
      },
    });
    task.start();
    try {
      // Three full batches and the round that found the rest: four rounds without a pause.
      await eventually(() => rounds.length >= 4);
      expect((rounds[3] ?? 0) - (rounds[0] ?? 0)).toBeLessThan(300);
      await eventually(() => rounds.length >= 5);
      expect((rounds[4] ?? 0) - (rounds[3] ?? 0)).toBeGreaterThanOrEqual(390);
    } finally {
      await task.stop();
    }
  });

  it("keeps going after a failing round, with a doubling pause", async () => {
    const outcomes: Array<{ outcome: string; at: number }> = [];
    let calls = 0;
    const task = new PeriodicTask({
      name: "flaky",
      intervalMs: 100,
      logger: silent,
      run: async () => {
        calls++;
        if (calls <= 2) {
          outcomes.push({ outcome: "failed", at: Date.now() });
          throw new Error("database away");
        }
        outcomes.push({ outcome: "ok", at: Date.now() });
        return false;
      },
    });
    task.start();
    try {
      await eventually(() => outcomes.length >= 3);
      expect(outcomes.slice(0, 3).map((entry) => entry.outcome)).toEqual(["failed", "failed", "ok"]);
      const [first, second, third] = outcomes.map((entry) => entry.at) as [number, number, number];
      expect(second - first).toBeGreaterThanOrEqual(95);
      expect(third - second).toBeGreaterThanOrEqual(195);
    } finally {
      await task.stop();
    }
  });

  it("wake() runs the next round without waiting for the interval", async () => {
    let rounds = 0;
    const task = new PeriodicTask({
      name: "sleepy",
      intervalMs: 60_000,
      logger: silent,
      run: async () => {
        rounds++;
        return false;
      },
    });
    task.start();
    try {
      await eventually(() => rounds === 1);
      task.wake();
      await eventually(() => rounds === 2);
    } finally {
      await task.stop();
    }
  });

  it("stop() lets the round in progress finish and starts no other", async () => {
    let finished = 0;
    let startedRounds = 0;
    const task = new PeriodicTask({
      name: "slow",
      intervalMs: 10,
      logger: silent,
      run: async () => {
        startedRounds++;
        await sleep(100);
        finished++;
        return true;
      },
    });
    task.start();
    await eventually(() => startedRounds === 1);
    await task.stop();
    expect(finished).toBe(1);
    await sleep(50);
    expect(startedRounds).toBe(1);
  });
});

describe("validateSku", () => {
  it("accepts catalog SKUs and returns them trimmed", () => {
    expect(validateSku("sku", " AG-KIT-001 ")).toBe("AG-KIT-001");
    expect(validateSku("sku", "X1")).toBe("X1");
  });

  it.each([
    [undefined, "lines[0].sku: is required"],
    ["", "lines[0].sku: is required"],
    ["ag-kit-001", "lines[0].sku: must be upper case"],
    ["AG--KIT", "lines[0].sku: must be upper case"],
    ["AG KIT", "lines[0].sku: must be upper case"],
    ["A".repeat(41), "lines[0].sku: must have at most 40 characters"],
  ])("rejects %j naming the field", (value, message) => {
    expect(() => validateSku("lines[0].sku", value)).toThrow(message);
    expect(() => validateSku("lines[0].sku", value)).toThrow(InvalidArgumentError);
  });
});

describe("exactlyOneOf", () => {
  it("returns the field that is set", () => {
    expect(exactlyOneOf(["payment_id", "p1"], ["order_id", ""])).toEqual({ field: "payment_id", value: "p1" });
    expect(exactlyOneOf(["payment_id", undefined], ["order_id", " o1 "])).toEqual({ field: "order_id", value: "o1" });
  });

  it("names the first field when neither is set and the second when both are", () => {
    expect(() => exactlyOneOf(["payment_id", ""], ["order_id", " "])).toThrow(
      "payment_id: is required (or give order_id instead)",
    );
    expect(() => exactlyOneOf(["payment_id", "p"], ["order_id", "o"])).toThrow(
      "order_id: give either payment_id or order_id, not both",
    );
  });
});
