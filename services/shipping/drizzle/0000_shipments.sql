CREATE SEQUENCE "public"."tracking_serials" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1;--> statement-breakpoint
CREATE TABLE "cancelled_orders" (
	"order_id" text PRIMARY KEY NOT NULL,
	"reason" text NOT NULL,
	"cancelled_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "shipments" (
	"shipment_id" uuid PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"status" text NOT NULL,
	"address" jsonb NOT NULL,
	"items" jsonb NOT NULL,
	"cost_currency" text NOT NULL,
	"cost_nanos" bigint NOT NULL,
	"carrier" text NOT NULL,
	"estimated_days" integer NOT NULL,
	"tracking_number" text,
	"dispatch_due_at" timestamp with time zone,
	"cancel_reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"dispatched_at" timestamp with time zone,
	"cancelled_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "shipments_order_id_unique" UNIQUE("order_id"),
	CONSTRAINT "shipments_tracking_number_unique" UNIQUE("tracking_number")
);
--> statement-breakpoint
CREATE INDEX "shipments_dispatch_due_idx" ON "shipments" USING btree ("dispatch_due_at") WHERE "shipments"."status" = 'CREATED';--> statement-breakpoint
CREATE INDEX "shipments_customer_idx" ON "shipments" USING btree ("customer_id");