DROP INDEX `uploads_owner_id_idx`;--> statement-breakpoint
CREATE INDEX `uploads_owner_id_state_created_at_idx` ON `uploads` (`owner_id`,`state`,`created_at`);--> statement-breakpoint
CREATE INDEX `uploads_state_scope_updated_at_idx` ON `uploads` (`state`,`scope`,`updated_at`);--> statement-breakpoint
CREATE INDEX `users_deleted_idx` ON `users` (`id`) WHERE "users"."state" = 'deleted';