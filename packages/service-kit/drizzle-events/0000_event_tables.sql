CREATE TABLE "agora_aggregate_versions" (
	"aggregate_type" text NOT NULL,
	"aggregate_id" text NOT NULL,
	"version" bigint NOT NULL,
	CONSTRAINT "agora_aggregate_versions_aggregate_type_aggregate_id_pk" PRIMARY KEY("aggregate_type","aggregate_id")
);
--> statement-breakpoint
CREATE TABLE "agora_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"event_type" text NOT NULL,
	"aggregate_type" text NOT NULL,
	"aggregate_id" text NOT NULL,
	"aggregate_version" bigint NOT NULL,
	"envelope" "bytea" NOT NULL,
	"headers" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone,
	CONSTRAINT "agora_outbox_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE TABLE "agora_processed_events" (
	"consumer" text NOT NULL,
	"event_id" uuid NOT NULL,
	"processed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agora_processed_events_consumer_event_id_pk" PRIMARY KEY("consumer","event_id")
);
--> statement-breakpoint
CREATE INDEX "agora_outbox_unpublished_idx" ON "agora_outbox" USING btree ("id") WHERE "agora_outbox"."published_at" is null;--> statement-breakpoint
CREATE INDEX "agora_outbox_published_at_idx" ON "agora_outbox" USING btree ("published_at");--> statement-breakpoint
CREATE INDEX "agora_processed_events_processed_at_idx" ON "agora_processed_events" USING btree ("processed_at");