-- The users' sort and search keys. From now on the service writes them with the names (lower-cased
-- with the whole of Unicode); for the rows already here SQLite's lower() folds ASCII only, until the
-- user's next user.updated or first provisioning writes them again.
UPDATE `users` SET `first_name_key` = lower(`first_name`), `last_name_key` = lower(`last_name`),
                   `email_key` = lower(`email`);
--> statement-breakpoint
-- Each user's organization and role (until now one per user, on the users row) becomes an active
-- membership, dated by the row's last change: a token issued before that cannot change it.
INSERT INTO `memberships` (`workos_user_id`, `organization_id`, `role`, `state`, `changed_at`,
                           `user_id`, `user_state`, `last_name_key`, `first_name_key`, `email_key`)
SELECT `workos_user_id`, `organization_id`, `role`, 'active', `updated_at`,
       `id`, `state`, `last_name_key`, `first_name_key`, `email_key`
FROM `users`
WHERE `organization_id` IS NOT NULL;
--> statement-breakpoint
-- The copies of the user on each membership (id, state, sort and search keys) follow the users row,
-- whichever statement writes it, so the members list reads one index and never joins to sort.
-- A membership may be recorded before its user exists (WorkOS does not order user.created first):
-- it picks the user up when it is inserted, and the user's row fills it when that arrives.
CREATE TRIGGER `memberships_copy_user`
AFTER INSERT ON `memberships`
BEGIN
  UPDATE `memberships`
  SET (`user_id`, `user_state`, `last_name_key`, `first_name_key`, `email_key`) = (
    SELECT `id`, `state`, `last_name_key`, `first_name_key`, `email_key`
    FROM `users` WHERE `workos_user_id` = NEW.`workos_user_id`)
  WHERE `workos_user_id` = NEW.`workos_user_id` AND `organization_id` = NEW.`organization_id`
    AND EXISTS (SELECT 1 FROM `users` WHERE `workos_user_id` = NEW.`workos_user_id`);
END;
--> statement-breakpoint
CREATE TRIGGER `users_inserted_copy_to_memberships`
AFTER INSERT ON `users`
BEGIN
  UPDATE `memberships`
  SET `user_id` = NEW.`id`, `user_state` = NEW.`state`, `last_name_key` = NEW.`last_name_key`,
      `first_name_key` = NEW.`first_name_key`, `email_key` = NEW.`email_key`
  WHERE `workos_user_id` = NEW.`workos_user_id`;
END;
--> statement-breakpoint
-- Only the columns the copies hold: the PATCH (profile_picture_upload_id) fires nothing here.
CREATE TRIGGER `users_updated_copy_to_memberships`
AFTER UPDATE OF `state`, `last_name_key`, `first_name_key`, `email_key` ON `users`
BEGIN
  UPDATE `memberships`
  SET `user_state` = NEW.`state`, `last_name_key` = NEW.`last_name_key`,
      `first_name_key` = NEW.`first_name_key`, `email_key` = NEW.`email_key`
  WHERE `workos_user_id` = NEW.`workos_user_id`;
END;
