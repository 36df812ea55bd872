import { type Order, OrderStatus } from "@agora/contracts/agora/order/v1/order";
import {
  type GetOrderRequest,
  type GetOrderResponse,
  OrderServiceService,
  type PlaceOrderRequest,
  type PlaceOrderResponse,
  type WatchOrderRequest,
  type WatchOrderResponse,
} from "@agora/contracts/agora/order/v1/order_service";
import * as grpc from "@grpc/grpc-js";
import { metadataValue } from "./grpc-stand-ins";

/** One order the stand-in knows, with the statuses a watcher sees after the current one. */
export interface ScriptedOrder {
  orderId: string;
  customerId: string;
  /** Statuses in order; the first is the current one. A watcher gets one every `stepMs`. */
  statuses: OrderStatus[];
  /** Fail the watch with this status after the listed statuses were sent. */
  failWith?: grpc.status;
}

const finalStatuses = new Set([
  OrderStatus.ORDER_STATUS_SHIPPED,
  OrderStatus.ORDER_STATUS_REJECTED,
  OrderStatus.ORDER_STATUS_CANCELLED,
]);

function orderOf(script: ScriptedOrder, status: OrderStatus): Order {
  return {
    orderId: script.orderId,
    customerId: script.customerId,
    status,
    lines: [],
    paymentMethodSummary: "visa •••• 4242",
    paymentId: "",
    statusReason: "",
    history: [],
    createTime: new Date("2026-11-23T09:00:00Z"),
  };
}

/** What the stand-in saw, for assertions. */
export interface OrderStandInLog {
  placed: Array<{ request: PlaceOrderRequest; metadata: Record<string, string | undefined> }>;
  watchesCancelled: number;
  watchesStarted: number;
}

/**
 * A stand-in OrderService (the real one is written concurrently). It enforces ownership from the
 * `x-agora-customer-id` metadata the way the real service must: an order of another customer is
 * NOT_FOUND, never shown. PlaceOrder records what it received; WatchOrder sends the order now and at
 * each scripted status change, ends at a final status and notices when the caller cancels.
 */
export function registerOrderStandIn(server: grpc.Server, orders: ScriptedOrder[], stepMs: number): OrderStandInLog {
  const log: OrderStandInLog = { placed: [], watchesCancelled: 0, watchesStarted: 0 };
  const visible = (orderId: string, metadata: grpc.Metadata): ScriptedOrder | undefined => {
    const script = orders.find((candidate) => candidate.orderId === orderId);
    const caller = metadataValue(metadata, "x-agora-customer-id");
    return script && (caller === undefined || caller === script.customerId) ? script : undefined;
  };
  const notFound = (orderId: string) => ({ code: grpc.status.NOT_FOUND, details: `order ${orderId} not found` });
  server.addService(OrderServiceService, {
    placeOrder: (
      call: grpc.ServerUnaryCall<PlaceOrderRequest, PlaceOrderResponse>,
      callback: grpc.sendUnaryData<PlaceOrderResponse>,
    ) => {
      log.placed.push({
        request: call.request,
        metadata: {
          customerId: metadataValue(call.metadata, "x-agora-customer-id"),
          requestId: metadataValue(call.metadata, "x-request-id"),
          correlationId: metadataValue(call.metadata, "x-correlation-id"),
        },
      });
      callback(null, {
        order: orderOf(
          { orderId: "o-new", customerId: call.request.customerId, statuses: [] },
          OrderStatus.ORDER_STATUS_PENDING,
        ),
      });
    },
    getOrder: (
      call: grpc.ServerUnaryCall<GetOrderRequest, GetOrderResponse>,
      callback: grpc.sendUnaryData<GetOrderResponse>,
    ) => {
      const script = visible(call.request.orderId, call.metadata);
      if (!script) return callback(notFound(call.request.orderId));
      callback(null, { order: orderOf(script, script.statuses[0] ?? OrderStatus.ORDER_STATUS_PENDING) });
    },
    watchOrder: (call: grpc.ServerWritableStream<WatchOrderRequest, WatchOrderResponse>) => {
      const script = visible(call.request.orderId, call.metadata);
      if (!script) {
        call.emit("error", notFound(call.request.orderId));
        return;
      }
      log.watchesStarted++;
      let step = 0;
      const timer = setInterval(() => {
        if (call.cancelled) return;
        const status = script.statuses[step];
        if (status === undefined) {
          clearInterval(timer);
          if (script.failWith !== undefined)
            call.emit("error", { code: script.failWith, details: "order database unreachable" });
          return;
        }
        call.write({ order: orderOf(script, status) });
        step++;
        if (finalStatuses.has(status)) {
          clearInterval(timer);
          call.end();
        }
      }, stepMs);
      call.write({ order: orderOf(script, script.statuses[step++] ?? OrderStatus.ORDER_STATUS_PENDING) });
      call.on("cancelled", () => {
        log.watchesCancelled++;
        clearInterval(timer);
      });
    },
  } as unknown as grpc.UntypedServiceImplementation);
  return log;
}
