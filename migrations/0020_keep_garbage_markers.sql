-- What the storage cleanup finds garbage by, kept where it happens, so the cleanup reads garbage only.
-- A ready profile picture is garbage from the moment no user shows it: as of now, the uploads no one
-- shows are dated by their last change (when they became ready, or were detached: 0001 and 0009
-- stamped that), and from now on these triggers date them as users' photos change. They replace the
-- two that stamped `updated_at` on a detach, which nothing reads any more.
UPDATE `uploads` SET `unreferenced_since` = `updated_at`
WHERE `state` = 'ready' AND `scope` = 'profile_picture'
  AND NOT EXISTS (SELECT 1 FROM `users` WHERE `users`.`profile_picture_upload_id` = `uploads`.`id`)
  AND NOT EXISTS (SELECT 1 FROM `users` WHERE `users`.`imported_picture_upload_id` = `uploads`.`id`);
--> statement-breakpoint
-- The uploads of users deleted before now: their owner's deletion, dated by the tombstone's last change.
UPDATE `uploads` SET `owner_deleted_at` = (SELECT `updated_at` FROM `users` WHERE `users`.`id` = `uploads`.`owner_id`)
WHERE `owner_id` IN (SELECT `id` FROM `users` WHERE `state` = 'deleted');
--> statement-breakpoint
DROP TRIGGER `users_profile_picture_detached`;
--> statement-breakpoint
DROP TRIGGER `users_imported_picture_detached`;
--> statement-breakpoint
-- A custom photo set is shown: no garbage. The one it replaced, shown by no one else, is from now on.
-- Inside the PATCH's one conditional UPDATE: no extra round trip.
CREATE TRIGGER `users_profile_picture_changed`
AFTER UPDATE OF `profile_picture_upload_id` ON `users`
WHEN OLD.`profile_picture_upload_id` IS NOT NEW.`profile_picture_upload_id`
BEGIN
  UPDATE `uploads` SET `unreferenced_since` = NULL
  WHERE `id` = NEW.`profile_picture_upload_id` AND `unreferenced_since` IS NOT NULL;
  UPDATE `uploads` SET `unreferenced_since` = CAST(unixepoch('subsec') * 1000 AS INTEGER)
  WHERE `id` = OLD.`profile_picture_upload_id` AND `state` = 'ready'
    AND NOT EXISTS (SELECT 1 FROM `users` WHERE `profile_picture_upload_id` = OLD.`profile_picture_upload_id`)
    AND NOT EXISTS (SELECT 1 FROM `users` WHERE `imported_picture_upload_id` = OLD.`profile_picture_upload_id`);
END;
--> statement-breakpoint
-- The same for an imported WorkOS picture: shown when the import lands, garbage once another URL
-- (or the user's deletion) drops it.
CREATE TRIGGER `users_imported_picture_changed`
AFTER UPDATE OF `imported_picture_upload_id` ON `users`
WHEN OLD.`imported_picture_upload_id` IS NOT NEW.`imported_picture_upload_id`
BEGIN
  UPDATE `uploads` SET `unreferenced_since` = NULL
  WHERE `id` = NEW.`imported_picture_upload_id` AND `unreferenced_since` IS NOT NULL;
  UPDATE `uploads` SET `unreferenced_since` = CAST(unixepoch('subsec') * 1000 AS INTEGER)
  WHERE `id` = OLD.`imported_picture_upload_id` AND `state` = 'ready'
    AND NOT EXISTS (SELECT 1 FROM `users` WHERE `profile_picture_upload_id` = OLD.`imported_picture_upload_id`)
    AND NOT EXISTS (SELECT 1 FROM `users` WHERE `imported_picture_upload_id` = OLD.`imported_picture_upload_id`);
END;
