import { arrivalTimes, type Clock, scheduleArrivals } from "../src/arrivals";
import { seededRandom } from "../src/random";

/** A clock that only moves when slept on; `overshootMs` makes every sleep late, like a busy event loop. */
function virtualClock(overshootMs = 0): Clock & { sleeps: number } {
  let now = 0;
  return {
    sleeps: 0,
    now: () => now,
    async sleep(ms) {
      this.sleeps++;
      now += ms + overshootMs;
    },
  };
}

describe("arrival times", () => {
  it("spaces constant arrivals exactly 1/rate apart without drift", () => {
    const next = arrivalTimes(3, "constant", seededRandom(1));
    const times = Array.from({ length: 3001 }, () => next());
    expect(times[0]).toBe(0);
    expect(times[1]).toBeCloseTo(333.333, 3);
    expect(times[3000]).toBe(1_000_000);
  });

  it("draws Poisson gaps with mean 1/rate and a coefficient of variation of 1 (exponential)", () => {
    const next = arrivalTimes(200, "poisson", seededRandom(3));
    let previous = 0;
    const gaps: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      const time = next();
      gaps.push(time - previous);
      previous = time;
    }
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    const sd = Math.sqrt(gaps.reduce((a, b) => a + (b - mean) ** 2, 0) / gaps.length);
    expect(mean).toBeGreaterThan(4.9);
    expect(mean).toBeLessThan(5.1);
    expect(sd / mean).toBeGreaterThan(0.97);
    expect(sd / mean).toBeLessThan(1.03);
  });

  it("refuses a rate that is not positive", () => {
    expect(() => arrivalTimes(0, "constant", Math.random)).toThrow(/positive/);
    expect(() => arrivalTimes(Number.POSITIVE_INFINITY, "poisson", Math.random)).toThrow(/positive/);
  });
});

describe("scheduleArrivals", () => {
  it("starts exactly rate × duration constant arrivals, each at its intended time", async () => {
    const clock = virtualClock();
    const intended: number[] = [];
    const late: number[] = [];
    const count = await scheduleArrivals({
      rate: 50,
      process: "constant",
      random: seededRandom(1),
      durationMs: 10_000,
      clock,
      onArrival: (at, lateBy) => {
        intended.push(at);
        late.push(lateBy);
      },
    });
    expect(count).toBe(500);
    expect(intended).toHaveLength(500);
    expect(intended[499]).toBeCloseTo(9980, 6);
    expect(Math.max(...late)).toBeCloseTo(0, 6);
  });

  it("keeps the Poisson rate within four standard deviations", async () => {
    let count = 0;
    await scheduleArrivals({
      rate: 1000,
      process: "poisson",
      random: seededRandom(11),
      durationMs: 20_000,
      clock: virtualClock(),
      onArrival: () => count++,
    });
    // Poisson count over 20 s at 1000/s: mean 20000, standard deviation ≈ 141.
    expect(Math.abs(count - 20_000)).toBeLessThan(566);
  });

  it("catches up when the process wakes late instead of lowering the rate, and reports how late", async () => {
    const clock = virtualClock(35);
    const late: number[] = [];
    const count = await scheduleArrivals({
      rate: 100,
      process: "constant",
      random: seededRandom(1),
      durationMs: 5000,
      clock,
      onArrival: (_, lateBy) => late.push(lateBy),
    });
    expect(count).toBe(500);
    // Every wake-up is 35 ms late, so several due arrivals start at once, up to 35 ms behind.
    expect(clock.sleeps).toBeLessThan(200);
    expect(Math.max(...late)).toBeGreaterThanOrEqual(30);
    expect(Math.max(...late)).toBeLessThanOrEqual(35.001);
  });

  it("stops when its signal aborts", async () => {
    const stop = new AbortController();
    let count = 0;
    await scheduleArrivals({
      rate: 100,
      process: "constant",
      random: seededRandom(1),
      durationMs: 10_000,
      clock: virtualClock(),
      signal: stop.signal,
      onArrival: () => {
        if (++count === 10) stop.abort();
      },
    });
    expect(count).toBe(10);
  });

  it("holds the rate on the real clock while every flow takes far longer than the gap (open model)", async () => {
    const running: Array<Promise<void>> = [];
    let inFlightPeak = 0;
    let inFlight = 0;
    const started = performance.now();
    const count = await scheduleArrivals({
      rate: 200,
      process: "constant",
      random: seededRandom(1),
      durationMs: 1500,
      onArrival: () => {
        inFlight++;
        inFlightPeak = Math.max(inFlightPeak, inFlight);
        running.push(
          new Promise<void>((resolve) =>
            setTimeout(() => {
              inFlight--;
              resolve();
            }, 400),
          ),
        );
      },
    });
    const elapsed = performance.now() - started;
    await Promise.all(running);
    expect(count).toBe(300);
    expect(elapsed).toBeGreaterThanOrEqual(1490);
    expect(elapsed).toBeLessThan(1700);
    // 400 ms flows at 200/s: about 80 overlap; a closed loop would never exceed its user count.
    expect(inFlightPeak).toBeGreaterThanOrEqual(70);
  });
});
