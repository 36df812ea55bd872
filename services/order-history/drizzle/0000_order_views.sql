CREATE TABLE "order_views" (
	"order_id" text PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"status" text NOT NULL,
	"place_time" timestamp with time zone,
	"update_time" timestamp with time zone NOT NULL,
	"view" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "order_views_rebuild" (
	"order_id" text PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"status" text NOT NULL,
	"place_time" timestamp with time zone,
	"update_time" timestamp with time zone NOT NULL,
	"view" jsonb NOT NULL
);
--> statement-breakpoint
CREATE INDEX "order_views_customer_idx" ON "order_views" USING btree ("customer_id","place_time" DESC NULLS LAST,"order_id" DESC NULLS LAST) WHERE "order_views"."place_time" is not null;--> statement-breakpoint
CREATE INDEX "order_views_rebuild_customer_idx" ON "order_views_rebuild" USING btree ("customer_id","place_time" DESC NULLS LAST,"order_id" DESC NULLS LAST) WHERE "order_views_rebuild"."place_time" is not null;