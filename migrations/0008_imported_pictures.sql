ALTER TABLE `uploads` ADD `origin` text DEFAULT 'upload' NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `imported_picture_upload_id` text REFERENCES uploads(id);--> statement-breakpoint
ALTER TABLE `users` ADD `picture_import_url` text;--> statement-breakpoint
CREATE INDEX `users_imported_picture_upload_id_idx` ON `users` (`imported_picture_upload_id`);--> statement-breakpoint
CREATE INDEX `users_picture_import_due_idx` ON `users` (`id`) WHERE "users"."workos_profile_picture_url" IS NOT NULL AND "users"."picture_import_url" IS NOT "users"."workos_profile_picture_url" AND "users"."state" <> 'deleted';