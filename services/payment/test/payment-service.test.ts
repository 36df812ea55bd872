import { createTestDatabase } from "@agora/testing";
import { describePaymentService } from "./support/payment-suite";

describePaymentService("payment service on real Postgres and NATS", async () => {
  const database = await createTestDatabase("payment");
  return { env: { DATABASE_URL: database.url }, drop: () => database.drop() };
});
