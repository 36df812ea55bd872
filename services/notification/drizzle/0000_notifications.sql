CREATE TABLE "notifications" (
	"notification_id" uuid PRIMARY KEY NOT NULL,
	"seq" bigserial NOT NULL,
	"customer_id" text NOT NULL,
	"channel" text NOT NULL,
	"recipient" text NOT NULL,
	"event_id" uuid NOT NULL,
	"event_type" text NOT NULL,
	"order_id" text NOT NULL,
	"subject" text NOT NULL,
	"body" text NOT NULL,
	"sent_at" timestamp with time zone NOT NULL,
	CONSTRAINT "notifications_seq_unique" UNIQUE("seq"),
	CONSTRAINT "notifications_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE INDEX "notifications_customer_idx" ON "notifications" USING btree ("customer_id","seq" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "notifications_customer_order_idx" ON "notifications" USING btree ("customer_id","order_id","seq" DESC NULLS LAST);