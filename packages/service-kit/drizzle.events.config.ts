import { defineConfig } from "drizzle-kit";

// The kit's own tables (outbox, aggregate versions, inbox). `npm run db:generate -w @agora/service-kit`
// writes a migration into drizzle-events/ after src/events/schema.ts changed; every service that uses
// events applies them at start, tracked in their own migrations table.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/events/schema.ts",
  out: "./drizzle-events",
});
