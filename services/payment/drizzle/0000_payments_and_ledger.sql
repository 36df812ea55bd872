CREATE TABLE "ledger_entries" (
	"sequence" bigserial PRIMARY KEY NOT NULL,
	"entry_id" uuid NOT NULL,
	"payment_id" uuid NOT NULL,
	"type" text NOT NULL,
	"currency" text NOT NULL,
	"amount_nanos" bigint NOT NULL,
	"processor_reference" text NOT NULL,
	"refund_id" text,
	"reason" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ledger_entries_entry_id_unique" UNIQUE("entry_id"),
	CONSTRAINT "ledger_entries_refund_id_unique" UNIQUE("refund_id"),
	CONSTRAINT "ledger_entries_amount_positive" CHECK ("ledger_entries"."amount_nanos" > 0)
);
--> statement-breakpoint
CREATE TABLE "payment_methods" (
	"payment_method_id" text PRIMARY KEY NOT NULL,
	"brand" text NOT NULL,
	"last4" text NOT NULL,
	"exp_month" integer NOT NULL,
	"exp_year" integer NOT NULL,
	"processor_token" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payment_methods_last4_digits" CHECK ("payment_methods"."last4" ~ '^[0-9]{4}$')
);
--> statement-breakpoint
CREATE TABLE "payments" (
	"payment_id" uuid PRIMARY KEY NOT NULL,
	"order_id" text NOT NULL,
	"customer_id" text NOT NULL,
	"status" text NOT NULL,
	"currency" text NOT NULL,
	"amount_nanos" bigint NOT NULL,
	"captured_nanos" bigint DEFAULT 0 NOT NULL,
	"refunded_nanos" bigint DEFAULT 0 NOT NULL,
	"payment_method_id" text NOT NULL,
	"decline_reason" text,
	"authorization_reference" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "payments_order_id_unique" UNIQUE("order_id"),
	CONSTRAINT "payments_amount_positive" CHECK ("payments"."amount_nanos" > 0),
	CONSTRAINT "payments_captured_within_amount" CHECK ("payments"."captured_nanos" between 0 and "payments"."amount_nanos"),
	CONSTRAINT "payments_refunded_within_captured" CHECK ("payments"."refunded_nanos" between 0 and "payments"."captured_nanos")
);
--> statement-breakpoint
CREATE TABLE "simulator_operations" (
	"idempotency_key" text PRIMARY KEY NOT NULL,
	"attempts" integer NOT NULL,
	"result" jsonb,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "ledger_entries" ADD CONSTRAINT "ledger_entries_payment_id_payments_payment_id_fk" FOREIGN KEY ("payment_id") REFERENCES "public"."payments"("payment_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "payments" ADD CONSTRAINT "payments_payment_method_id_payment_methods_payment_method_id_fk" FOREIGN KEY ("payment_method_id") REFERENCES "public"."payment_methods"("payment_method_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ledger_entries_payment_idx" ON "ledger_entries" USING btree ("payment_id","sequence");--> statement-breakpoint
CREATE INDEX "payments_customer_idx" ON "payments" USING btree ("customer_id");