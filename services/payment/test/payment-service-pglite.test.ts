import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describePaymentService } from "./support/payment-suite";

// No DATABASE_URL: payment runs on the embedded PGlite, as `./agora up` runs it — one connection, so
// a query outside an open transaction waits for it. PGLITE_DIR keeps the data across the suite's restart.
describePaymentService("payment service on the embedded PGlite (no DATABASE_URL) and NATS", async () => {
  const dir = await mkdtemp(join(tmpdir(), "agora-payment-pglite-"));
  return { env: { PGLITE_DIR: dir }, drop: () => rm(dir, { recursive: true, force: true }) };
});
