-- When a user's imported picture is replaced or dropped (their WorkOS picture URL changed, or they were
-- deleted), stamp the detached import's updated_at, as 0001 does for a custom photo: the storage
-- cleanup's "unreferenced for 7 days" then counts from the moment it stopped being shown.
CREATE TRIGGER `users_imported_picture_detached`
AFTER UPDATE OF `imported_picture_upload_id` ON `users`
WHEN OLD.`imported_picture_upload_id` IS NOT NULL
  AND OLD.`imported_picture_upload_id` IS NOT NEW.`imported_picture_upload_id`
BEGIN
  UPDATE `uploads` SET `updated_at` = CAST(unixepoch('subsec') * 1000 AS INTEGER)
  WHERE `id` = OLD.`imported_picture_upload_id`;
END;
