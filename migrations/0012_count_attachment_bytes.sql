-- `users.attachment_bytes`: the bytes of a user's attachments that are pending or ready, what
-- MAX_ATTACHMENT_BYTES_PER_USER bounds. Triggers keep it in step with every statement that writes
-- `uploads` (an insert, a state change, a delete, a change of owner), so the upload insert checks the
-- quota reading one row however many attachments the user has, and it cannot drift from the rows.
CREATE TRIGGER `uploads_inserted_count_attachment_bytes`
AFTER INSERT ON `uploads`
WHEN NEW.`scope` = 'attachment' AND NEW.`state` IN ('pending', 'ready')
BEGIN
  UPDATE `users` SET `attachment_bytes` = `attachment_bytes` + NEW.`size` WHERE `id` = NEW.`owner_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `uploads_deleted_count_attachment_bytes`
AFTER DELETE ON `uploads`
WHEN OLD.`scope` = 'attachment' AND OLD.`state` IN ('pending', 'ready')
BEGIN
  UPDATE `users` SET `attachment_bytes` = `attachment_bytes` - OLD.`size` WHERE `id` = OLD.`owner_id`;
END;
--> statement-breakpoint
-- A pending attachment that fails stops counting; one that turns ready goes on counting.
CREATE TRIGGER `uploads_updated_count_attachment_bytes`
AFTER UPDATE OF `owner_id`, `scope`, `state`, `size` ON `uploads`
WHEN (OLD.`scope` = 'attachment' AND OLD.`state` IN ('pending', 'ready'))
  OR (NEW.`scope` = 'attachment' AND NEW.`state` IN ('pending', 'ready'))
BEGIN
  UPDATE `users` SET `attachment_bytes` = `attachment_bytes` - OLD.`size`
  WHERE `id` = OLD.`owner_id` AND OLD.`scope` = 'attachment' AND OLD.`state` IN ('pending', 'ready');
  UPDATE `users` SET `attachment_bytes` = `attachment_bytes` + NEW.`size`
  WHERE `id` = NEW.`owner_id` AND NEW.`scope` = 'attachment' AND NEW.`state` IN ('pending', 'ready');
END;
--> statement-breakpoint
-- The attachments already stored, counted once.
UPDATE `users`
SET `attachment_bytes` = (
  SELECT coalesce(sum(`size`), 0) FROM `uploads`
  WHERE `owner_id` = `users`.`id` AND `scope` = 'attachment' AND `state` IN ('pending', 'ready'))
WHERE `id` IN (SELECT `owner_id` FROM `uploads` WHERE `scope` = 'attachment');
