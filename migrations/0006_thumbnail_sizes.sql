ALTER TABLE `uploads` ADD `thumb_sizes` text;--> statement-breakpoint
ALTER TABLE `users` ADD `profile_picture_thumb_sizes` text;