CREATE TABLE `upload_objects_to_delete` (
	`upload_id` text PRIMARY KEY NOT NULL,
	`recorded_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `upload_objects_to_delete_recorded_at_idx` ON `upload_objects_to_delete` (`recorded_at`);