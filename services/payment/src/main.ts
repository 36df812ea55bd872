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

    subscribe({
      name: "shipment-dispatched",
      handlers: [
        on(ShipmentDispatchedEvent, async ({ shipment }, event, tx) => {
          const orderId = shipment?.orderId ?? "";
          const { result, payment } = await payments.captureForShipment(tx, orderId);
          const fields = {
            order_id: orderId,
            event_id: event.id,
            payment_id: payment?.paymentId,
            status: payment?.status,
          };
          if (result === "captured") logger.info(fields, "payment captured: shipment dispatched");
          else if (result === "already captured")
            logger.info(fields, "shipment dispatched: payment was captured already");
          else logger.warn(fields, `shipment dispatched but the payment cannot be captured (${result}); skipped`);
        }),
      ],
    });

    return { grpc: [bind(PaymentServiceService, paymentHandlers(payments))] };
  },
});

if (require.main === module) paymentService.main();
