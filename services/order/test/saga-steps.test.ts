import { GrpcCode } from "../src/grpc-status";
import {
  describeError,
  type PaymentFacts,
  type PaymentPort,
  type ReservationState,
  runStep,
  type SagaOrder,
  type ShipmentPort,
  type StockPort,
} from "../src/saga/saga-steps";

// How a step's call ends, classified without a network: the ports are small in-memory stand-ins that
// answer or throw the way a gRPC client does (an Error with a numeric code and details).

function grpcError(code: number, details: string): Error {
  return Object.assign(new Error(`${code}: ${details}`), { code, details, metadata: {} });
}

const order: SagaOrder = {
  orderId: "0b6e1c1e-5d1b-4c55-9d3f-2c1e0f0a9b11",
  customerId: "customer-1",
  currency: "EUR",
  totalNanos: 59_900_000_000n,
  paymentMethodId: "pm_1",
  lines: [{ sku: "AG-COF-003", quantity: 1 }],
  compensationReason: "payment declined: insufficient funds",
};

function stock(behaviour: Partial<Record<keyof StockPort, () => Promise<void>>> & { state?: ReservationState } = {}) {
  const calls: string[] = [];
  const port: StockPort = {
    reserve: async (orderId, lines) => {
      calls.push(`reserve ${orderId} ${lines.map((line) => `${line.sku}×${line.quantity}`).join(",")}`);
      await behaviour.reserve?.();
      return behaviour.state ?? "RESERVED";
    },
    commit: async (orderId) => {
      calls.push(`commit ${orderId}`);
      await behaviour.commit?.();
    },
    release: async (orderId, reason) => {
      calls.push(`release ${orderId} (${reason})`);
      await behaviour.release?.();
    },
  };
  return { port, calls };
}

function payments(options: { existing?: PaymentFacts; authorize?: () => Promise<PaymentFacts> } = {}) {
  const calls: string[] = [];
  let current = options.existing;
  const port: PaymentPort = {
    authorize: async (request) => {
      calls.push(`authorize ${request.orderId} ${request.totalNanos} ${request.currency} ${request.paymentMethodId}`);
      if (options.authorize) return options.authorize();
      current = { paymentId: "pay-1", state: "AUTHORIZED", declineReason: "" };
      return current;
    },
    findByOrder: async (orderId) => {
      calls.push(`find ${orderId}`);
      return current;
    },
    void: async (paymentId, reason) => {
      calls.push(`void ${paymentId} (${reason})`);
      current = { paymentId, state: "VOIDED", declineReason: "" };
      return current;
    },
  };
  return { port, calls };
}

function shipping(cancel: () => Promise<void> = async () => {}) {
  const calls: string[] = [];
  const port: ShipmentPort = {
    cancel: async (orderId, reason) => {
      calls.push(`cancel ${orderId} (${reason})`);
      await cancel();
    },
  };
  return { port, calls };
}

describe("saga steps", () => {
  it("reserves all lines of the order, keyed by its id", async () => {
    const inventory = stock();
    const outcome = await runStep("RESERVE_STOCK", order, {
      stock: inventory.port,
      payments: payments().port,
      shipments: shipping().port,
    });
    expect(outcome).toEqual({ kind: "done" });
    expect(inventory.calls).toEqual([`reserve ${order.orderId} AG-COF-003×1`]);
  });

  it("classifies FAILED_PRECONDITION from ReserveStock as out of stock, and unknown SKUs as refused", async () => {
    const short = stock({
      reserve: () => Promise.reject(grpcError(GrpcCode.FAILED_PRECONDITION, "AG-COF-003: 0 left")),
    });
    expect(
      await runStep("RESERVE_STOCK", order, {
        stock: short.port,
        payments: payments().port,
        shipments: shipping().port,
      }),
    ).toEqual({
      kind: "refused",
      reason: "out of stock: AG-COF-003: 0 left",
    });
    const unknown = stock({ reserve: () => Promise.reject(grpcError(GrpcCode.NOT_FOUND, "no SKU AG-X")) });
    expect(
      await runStep("RESERVE_STOCK", order, {
        stock: unknown.port,
        payments: payments().port,
        shipments: shipping().port,
      }),
    ).toEqual({
      kind: "refused",
      reason: "stock not reserved: NOT_FOUND: no SKU AG-X",
    });
    // Inventory's own wording is kept as it is.
    const worded = stock({
      reserve: () =>
        Promise.reject(grpcError(GrpcCode.FAILED_PRECONDITION, "out of stock: AG-COF-003 (2 requested, 1 available)")),
    });
    expect(
      await runStep("RESERVE_STOCK", order, {
        stock: worded.port,
        payments: payments().port,
        shipments: shipping().port,
      }),
    ).toEqual({
      kind: "refused",
      reason: "out of stock: AG-COF-003 (2 requested, 1 available)",
    });
  });

  it("does not count a reservation that lapsed since an earlier attempt (ReserveStock returns it unchanged)", async () => {
    for (const state of ["EXPIRED", "RELEASED"] as const) {
      const lapsed = stock({ state });
      expect(
        await runStep("RESERVE_STOCK", order, {
          stock: lapsed.port,
          payments: payments().port,
          shipments: shipping().port,
        }),
      ).toEqual({
        kind: "refused",
        reason: `the stock reservation is ${state.toLowerCase()}`,
      });
    }
    expect(
      (
        await runStep("RESERVE_STOCK", order, {
          stock: stock({ state: "COMMITTED" }).port,
          payments: payments().port,
          shipments: shipping().port,
        })
      ).kind,
    ).toBe("done");
  });

  it("treats unavailable, timed out, internal and non-gRPC failures as passing: retry later", async () => {
    for (const error of [
      grpcError(GrpcCode.UNAVAILABLE, "inventory is failing; circuit open, not calling it for now"),
      grpcError(GrpcCode.DEADLINE_EXCEEDED, "deadline exceeded"),
      grpcError(GrpcCode.INTERNAL, "boom"),
      grpcError(GrpcCode.PERMISSION_DENIED, "RBAC: access denied"),
      new Error("socket hang up"),
    ]) {
      const failing = stock({ reserve: () => Promise.reject(error) });
      const outcome = await runStep("RESERVE_STOCK", order, {
        stock: failing.port,
        payments: payments().port,
        shipments: shipping().port,
      });
      expect(outcome).toEqual({ kind: "failed", error: describeError(error) });
    }
    expect(describeError(grpcError(GrpcCode.UNAVAILABLE, "down"))).toBe("UNAVAILABLE: down");
    expect(describeError(new Error("plain"))).toBe("ERROR: plain");
  });

  it("authorizes the order's total with the card token and reports the payment id", async () => {
    const payment = payments();
    const outcome = await runStep("AUTHORIZE_PAYMENT", order, {
      stock: stock().port,
      payments: payment.port,
      shipments: shipping().port,
    });
    expect(outcome).toEqual({ kind: "done", paymentId: "pay-1" });
    expect(payment.calls).toEqual([`authorize ${order.orderId} 59900000000 EUR pm_1`]);
  });

  it("turns a DECLINED payment (an answer, not an error) into a refusal with the issuer's reason", async () => {
    const payment = payments({
      authorize: async () => ({ paymentId: "pay-2", state: "DECLINED", declineReason: "insufficient funds" }),
    });
    expect(
      await runStep("AUTHORIZE_PAYMENT", order, {
        stock: stock().port,
        payments: payment.port,
        shipments: shipping().port,
      }),
    ).toEqual({
      kind: "refused",
      reason: "payment declined: insufficient funds",
      paymentId: "pay-2",
    });
  });

  it("commits the reservation; a reservation that is gone is refused", async () => {
    expect(
      await runStep("COMMIT_STOCK", order, {
        stock: stock().port,
        payments: payments().port,
        shipments: shipping().port,
      }),
    ).toEqual({
      kind: "done",
    });
    const expired = stock({ commit: () => Promise.reject(grpcError(GrpcCode.FAILED_PRECONDITION, "expired")) });
    expect(
      await runStep("COMMIT_STOCK", order, {
        stock: expired.port,
        payments: payments().port,
        shipments: shipping().port,
      }),
    ).toEqual({
      kind: "refused",
      reason: "stock reservation could not be committed: expired",
    });
  });

  it("voids an authorization found by order id, and skips payments that hold nothing", async () => {
    const authorized = payments({ existing: { paymentId: "pay-3", state: "AUTHORIZED", declineReason: "" } });
    expect(
      await runStep("VOID_PAYMENT", order, {
        stock: stock().port,
        payments: authorized.port,
        shipments: shipping().port,
      }),
    ).toEqual({
      kind: "done",
    });
    expect(authorized.calls).toEqual([`find ${order.orderId}`, `void pay-3 (${order.compensationReason})`]);
    for (const existing of [
      undefined,
      { paymentId: "p", state: "DECLINED", declineReason: "x" } as const,
      { paymentId: "p", state: "VOIDED", declineReason: "" } as const,
    ]) {
      const payment = payments({ existing });
      expect(
        await runStep("VOID_PAYMENT", order, {
          stock: stock().port,
          payments: payment.port,
          shipments: shipping().port,
        }),
      ).toEqual({
        kind: "done",
      });
      expect(payment.calls).toEqual([`find ${order.orderId}`]);
    }
  });

  it("refuses to void a captured payment (an operator must refund it)", async () => {
    const captured = payments({ existing: { paymentId: "pay-4", state: "CAPTURED", declineReason: "" } });
    expect(
      await runStep("VOID_PAYMENT", order, {
        stock: stock().port,
        payments: captured.port,
        shipments: shipping().port,
      }),
    ).toEqual({
      kind: "refused",
      reason: "payment pay-4 is CAPTURED; only an authorization can be voided",
    });
  });

  it("asks shipping to stop the order's shipment; a parcel that has left is a refusal that says it shipped", async () => {
    const ports = (cancel?: () => Promise<void>) => {
      const shipments = shipping(cancel);
      return { stock: stock().port, payments: payments().port, shipments: shipments.port, calls: shipments.calls };
    };
    const stopped = ports();
    expect(await runStep("CANCEL_SHIPMENT", order, stopped)).toEqual({ kind: "done" });
    expect(stopped.calls).toEqual([`cancel ${order.orderId} (${order.compensationReason})`]);
    const left =
      "order x: shipment s was dispatched at 2026-12-07T10:00:00.000Z, tracking number AG1; it can no longer be cancelled";
    expect(
      await runStep(
        "CANCEL_SHIPMENT",
        order,
        ports(() => Promise.reject(grpcError(GrpcCode.FAILED_PRECONDITION, left))),
      ),
    ).toEqual({ kind: "refused", reason: left, shipped: true });
    // Any other "no" is not a shipment that left: refused without `shipped` (the saga parks it).
    expect(
      await runStep(
        "CANCEL_SHIPMENT",
        order,
        ports(() => Promise.reject(grpcError(GrpcCode.INVALID_ARGUMENT, "order_id: must be a UUID"))),
      ),
    ).toEqual({ kind: "refused", reason: "INVALID_ARGUMENT: order_id: must be a UUID" });
    expect(
      (
        await runStep(
          "CANCEL_SHIPMENT",
          order,
          ports(() => Promise.reject(grpcError(GrpcCode.UNAVAILABLE, "down"))),
        )
      ).kind,
    ).toBe("failed");
  });

  it("releases the stock; an order with no reservation at inventory has nothing to give back", async () => {
    const inventory = stock();
    expect(
      await runStep("RELEASE_STOCK", order, {
        stock: inventory.port,
        payments: payments().port,
        shipments: shipping().port,
      }),
    ).toEqual({
      kind: "done",
    });
    expect(inventory.calls).toEqual([`release ${order.orderId} (${order.compensationReason})`]);
    const none = stock({ release: () => Promise.reject(grpcError(GrpcCode.NOT_FOUND, "no reservation")) });
    expect(
      (
        await runStep("RELEASE_STOCK", order, {
          stock: none.port,
          payments: payments().port,
          shipments: shipping().port,
        })
      ).kind,
    ).toBe("done");
    const down = stock({ release: () => Promise.reject(grpcError(GrpcCode.UNAVAILABLE, "down")) });
    expect(
      (
        await runStep("RELEASE_STOCK", order, {
          stock: down.port,
          payments: payments().port,
          shipments: shipping().port,
        })
      ).kind,
    ).toBe("failed");
  });
});
