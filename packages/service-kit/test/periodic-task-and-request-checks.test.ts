import { setTimeout as sleep } from "node:timers/promises";
import pino from "pino";
import { exactlyOneOf, InvalidArgumentError, PeriodicTask, validateSku } from "../src";

const silent = pino({ level: "silent" });

describe("PeriodicTask", () => {
  it("runs a round at start, then one per interval, and at once again after a full batch", async () => {
    const rounds: number[] = [];
    let batches = 3;
    const task = new PeriodicTask({
      name: "test",
      intervalMs: 150,
      logger: silent,
      run: async () => {
        rounds.push(Date.now());
        return batches-- > 0;
      },
    });
    const started = Date.now();
    task.start();
    try {
      await sleep(80);
      // Three full batches and the round that found the rest: four rounds without a pause.
      expect(rounds).toHaveLength(4);
      expect((rounds[3] ?? 0) - started).toBeLessThan(80);
      await sleep(200);
      expect(rounds).toHaveLength(5);
    } finally {
      await task.stop();
    }
  });

  it("keeps going after a failing round, with a doubling pause", async () => {
    const outcomes: string[] = [];
    let calls = 0;
    const task = new PeriodicTask({
      name: "flaky",
      intervalMs: 150,
      logger: silent,
      run: async () => {
        calls++;
        if (calls <= 2) {
          outcomes.push("failed");
          throw new Error("database away");
        }
        outcomes.push("ok");
        return false;
      },
    });
    task.start();
    try {
      // Failure at 0, 150 ms pause, failure at 150, 300 ms pause, success at 450, the next at 600.
      await sleep(300);
      expect(outcomes).toEqual(["failed", "failed"]);
      await sleep(225);
      expect(outcomes).toEqual(["failed", "failed", "ok"]);
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
      await sleep(30);
      expect(rounds).toBe(1);
      task.wake();
      await sleep(30);
      expect(rounds).toBe(2);
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
    await sleep(20);
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
