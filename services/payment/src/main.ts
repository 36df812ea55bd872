import { join } from "node:path";
import {
  PaymentAuthorizedEvent,
  PaymentCapturedEvent,
  PaymentDeclinedEvent,
  PaymentRefundedEvent,
  PaymentVoidedEvent,
  ShipmentDispatchedEvent,
} from "@agora/contracts";
import { PaymentServiceService } from "@agora/contracts/agora/payment/v1/payment_service";
import { defineService, on, z } from "@agora/service-kit";
import { CaptureRequests } from "./capture-requests";
import { captureWorker } from "./capture-worker";
import * as schema from "./db/schema";
import { paymentHandlers } from "./grpc-handlers";
import { type PaymentChange, Payments } from "./payments";
import { ProcessorSimulator } from "./processor-simulator";
import { toPayment } from "./proto-mapping";
import { databaseSimulatorMemory } from "./simulator-memory";

const eventOf = {
  authorized: PaymentAuthorizedEvent,
  declined: PaymentDeclinedEvent,
  captured: PaymentCapturedEvent,
  voided: PaymentVoidedEvent,
  refunded: PaymentRefundedEvent,
} satisfies Record<PaymentChange, unknown>;

/** The payment service: payments, their ledger, and the built-in card processor simulator. */
export const paymentService = defineService({
  name: "payment",
  ports: { grpc: 50054, metrics: 9454 },
  config: {
    /** How long payment waits for the card processor before answering UNAVAILABLE. */
    PROCESSOR_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(2000),
    /** How long the simulator's timeout test card hangs (longer than PROCESSOR_TIMEOUT_MS). */
    SIMULATOR_HANG_MS: z.coerce.number().int().min(0).default(30_000),
    /** How often the capture worker looks for due capture requests (shipment dispatched → capture). */
    CAPTURE_WORKER_INTERVAL_MS: z.coerce.number().int().min(10).max(3_600_000).default(250),
    /** Delay before retrying a failed capture; it doubles with every further failure… */
    CAPTURE_RETRY_INITIAL_MS: z.coerce.number().int().min(10).default(1000),
    /** …up to this. */
    CAPTURE_RETRY_MAX_MS: z.coerce.number().int().min(10).default(300_000),
  },
  database: { schema, migrationsFolder: join(__dirname, "..", "drizzle") },
  events: {
    publishes: [
      PaymentAuthorizedEvent,
      PaymentDeclinedEvent,
      PaymentCapturedEvent,
      PaymentVoidedEvent,
      PaymentRefundedEvent,
    ],
  },
  async setup({ config, database, logger, bind, outbox, subscribe }) {
    const processor = new ProcessorSimulator(databaseSimulatorMemory(database.db), {
      hangMs: config.SIMULATOR_HANG_MS,
    });
    const payments = new Payments(
      database.db,
      processor,
      {
        changed: async (tx, payment, change) => {
          const eventType = eventOf[change];
          await outbox.add(
            tx,
            eventType,
            { payment: toPayment(payment) },
            {
              aggregateId: payment.paymentId,
              occurredAt: payment.updatedAt,
            },
          );
        },
      },
      { processorTimeoutMs: config.PROCESSOR_TIMEOUT_MS },
    );

    // A dispatched shipment records a capture request in the inbox transaction; the capture worker
    // carries it out with no transaction open (the processor is never called inside one).
    const captureRequests = new CaptureRequests(database.db);
    subscribe({
      name: "shipment-dispatched",
      handlers: [
        on(ShipmentDispatchedEvent, async ({ shipment }, event, tx) => {
          const orderId = shipment?.orderId ?? "";
          const { result, payment } = await captureRequests.request(tx, orderId, event.id);
          const fields = {
            order_id: orderId,
            event_id: event.id,
            payment_id: payment?.paymentId,
            status: payment?.status,
          };
          if (result === "capture requested") logger.info(fields, "shipment dispatched: capture requested");
          else if (result === "already captured")
            logger.info(fields, "shipment dispatched: payment was captured already");
          else logger.warn(fields, `shipment dispatched but the payment cannot be captured (${result}); skipped`);
        }),
      ],
    });
    const captures = captureWorker(captureRequests, (paymentId) => payments.captureRequested(paymentId), {
      intervalMs: config.CAPTURE_WORKER_INTERVAL_MS,
      retry: { initialMs: config.CAPTURE_RETRY_INITIAL_MS, maxMs: config.CAPTURE_RETRY_MAX_MS },
      // Longer than an attempt can take (the processor's limit and the database work around it).
      leaseMs: 2 * config.PROCESSOR_TIMEOUT_MS + 5000,
      logger,
    });

    return { grpc: [bind(PaymentServiceService, paymentHandlers(payments))], background: [captures] };
  },
});

if (require.main === module) paymentService.main();
