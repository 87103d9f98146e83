CREATE TABLE `search_keys_to_refold` (
	`user_id` text PRIMARY KEY NOT NULL
);
