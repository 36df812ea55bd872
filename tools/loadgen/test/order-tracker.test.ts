import { OrderTracker } from "../src/order-tracker";
import { VirtualUser } from "../src/users";

describe("OrderTracker", () => {
  let now = 1000;
  const clock = () => now;

  it("times CONFIRMED and the final status from placement", () => {
    const tracker = new OrderTracker(1000, "terminal", clock);
    now = 1010;
    expect(tracker.observe("ORDER_STATUS_PENDING")).toBe(false);
    now = 1120;
    expect(tracker.observe("ORDER_STATUS_CONFIRMED")).toBe(false);
    now = 1500;
    expect(tracker.observe("ORDER_STATUS_CONFIRMED")).toBe(false);
    expect(tracker.confirmedAfterMs).toBe(120);
    now = 6200;
    expect(tracker.observe("ORDER_STATUS_SHIPPED")).toBe(true);
    expect(tracker.terminalAfterMs).toBe(5200);
    expect(tracker.confirmedAfterMs).toBe(120);
  });

  it("counts SHIPPED seen without CONFIRMED as confirmed then, and REJECTED as final but never confirmed", () => {
    now = 0;
    const shipped = new OrderTracker(0, "terminal", clock);
    now = 300;
    expect(shipped.observe("ORDER_STATUS_SHIPPED")).toBe(true);
    expect(shipped.confirmedAfterMs).toBe(300);
    const rejected = new OrderTracker(0, "terminal", clock);
    expect(rejected.observe("ORDER_STATUS_REJECTED")).toBe(true);
    expect(rejected.confirmedAfterMs).toBeUndefined();
    expect(rejected.terminalAfterMs).toBe(300);
  });

  it("stops at CONFIRMED when following until confirmed, but not at NEEDS_ATTENTION", () => {
    const tracker = new OrderTracker(0, "confirmed", clock);
    expect(tracker.observe("ORDER_STATUS_NEEDS_ATTENTION")).toBe(false);
    expect(tracker.observe("ORDER_STATUS_CONFIRMED")).toBe(true);
    expect(tracker.terminalAfterMs).toBeUndefined();
  });
});

describe("VirtualUser", () => {
  function fakeSignIn(expiresIn = 3_600_000) {
    const calls: string[] = [];
    return {
      calls,
      signIn: {
        async register(customer: { email: string }) {
          calls.push(`register ${customer.email}`);
        },
        async login(email: string) {
          calls.push(`login ${email}`);
          await new Promise((resolve) => setTimeout(resolve, 5));
          return { customerId: "c1", accessToken: `t${calls.length}`, expiresAt: Date.now() + expiresIn };
        },
      },
    };
  }

  it("registers and logs in once for concurrent flows, then reuses the token", async () => {
    const user = new VirtualUser(3, "run1");
    const { calls, signIn } = fakeSignIn();
    const sessions = await Promise.all([user.session(signIn), user.session(signIn), user.session(signIn)]);
    expect(new Set(sessions.map((session) => session.accessToken)).size).toBe(1);
    expect(await user.session(signIn)).toBe(sessions[0]);
    expect(calls).toEqual(["register loadgen+run1-3-1@example.com", "login loadgen+run1-3-1@example.com"]);
  });

  it("logs in again (without registering) when the token is about to expire or was refused", async () => {
    const user = new VirtualUser(1, "run2");
    const { calls, signIn } = fakeSignIn(10_000);
    await user.session(signIn);
    await user.session(signIn);
    user.invalidate();
    await user.session(signIn);
    expect(calls.filter((call) => call.startsWith("register"))).toHaveLength(1);
    expect(calls.filter((call) => call.startsWith("login"))).toHaveLength(3);
  });

  it("registers again after a failed registration instead of logging in to an account that does not exist", async () => {
    const user = new VirtualUser(2, "run3");
    const { calls, signIn } = fakeSignIn();
    let fail = true;
    const flaky = {
      ...signIn,
      async register(customer: { email: string }) {
        if (fail) {
          fail = false;
          throw new Error("HTTP 503");
        }
        return signIn.register(customer);
      },
    };
    await expect(user.session(flaky)).rejects.toThrow("HTTP 503");
    await user.session(flaky);
    expect(calls).toEqual(["register loadgen+run3-2-2@example.com", "login loadgen+run3-2-2@example.com"]);
  });
});
