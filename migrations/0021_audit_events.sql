CREATE TABLE `audit_events` (
	`id` text PRIMARY KEY NOT NULL,
	`organization_id` text NOT NULL,
	`action` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`actor_workos_user_id` text NOT NULL,
	`target_workos_user_id` text NOT NULL,
	`location` text NOT NULL,
	`user_agent` text,
	`upload_id` text,
	`previous_upload_id` text,
	`via` text NOT NULL,
	`state` text DEFAULT 'pending' NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	`settled_at` integer,
	`refusal` text
);
--> statement-breakpoint
CREATE INDEX `audit_events_due_idx` ON `audit_events` (`next_attempt_at`) WHERE "audit_events"."state" = 'pending';--> statement-breakpoint
CREATE INDEX `audit_events_settled_at_idx` ON `audit_events` (`settled_at`) WHERE "audit_events"."settled_at" IS NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `previous_profile_picture_upload_id` text;