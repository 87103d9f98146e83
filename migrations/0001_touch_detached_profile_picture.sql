-- When a user's custom photo is replaced or removed, stamp the detached upload's updated_at, so the
-- storage cleanup's "unreferenced for 7 days" counts from the moment it was detached, not from when
-- it was uploaded. A trigger keeps this inside the PATCH's one conditional UPDATE: no extra round trip.
CREATE TRIGGER `users_profile_picture_detached`
AFTER UPDATE OF `profile_picture_upload_id` ON `users`
WHEN OLD.`profile_picture_upload_id` IS NOT NULL
  AND OLD.`profile_picture_upload_id` IS NOT NEW.`profile_picture_upload_id`
BEGIN
  UPDATE `uploads` SET `updated_at` = CAST(unixepoch('subsec') * 1000 AS INTEGER)
  WHERE `id` = OLD.`profile_picture_upload_id`;
END;
