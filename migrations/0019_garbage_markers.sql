DROP INDEX `uploads_state_scope_updated_at_idx`;--> statement-breakpoint
ALTER TABLE `uploads` ADD `unreferenced_since` integer;--> statement-breakpoint
ALTER TABLE `uploads` ADD `owner_deleted_at` integer;--> statement-breakpoint
CREATE INDEX `uploads_unreferenced_since_idx` ON `uploads` (`unreferenced_since`) WHERE "uploads"."unreferenced_since" IS NOT NULL;--> statement-breakpoint
CREATE INDEX `uploads_owner_deleted_at_idx` ON `uploads` (`owner_deleted_at`) WHERE "uploads"."owner_deleted_at" IS NOT NULL;--> statement-breakpoint
DROP INDEX `users_deleted_idx`;