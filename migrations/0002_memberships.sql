CREATE TABLE `memberships` (
	`workos_user_id` text NOT NULL,
	`organization_id` text NOT NULL,
	`role` text NOT NULL,
	`state` text NOT NULL,
	`changed_at` integer NOT NULL,
	`user_id` text,
	`user_state` text,
	`last_name_key` text DEFAULT '' NOT NULL,
	`first_name_key` text DEFAULT '' NOT NULL,
	`email_key` text DEFAULT '' NOT NULL,
	PRIMARY KEY(`workos_user_id`, `organization_id`)
);
--> statement-breakpoint
CREATE INDEX `memberships_members_list_idx` ON `memberships` (`organization_id`,`state`,`user_state`,`last_name_key`,`first_name_key`,`user_id`,`email_key`);--> statement-breakpoint
ALTER TABLE `users` ADD `first_name_key` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `last_name_key` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `email_key` text DEFAULT '' NOT NULL;