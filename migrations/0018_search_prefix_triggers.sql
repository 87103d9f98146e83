-- The members list's search prefixes (member_search_prefixes, 0017): for each listed membership
-- (membership and user both active) one row per distinct prefix, 1 to 6 characters, of the first
-- name, last name, "first last" and email keys. The lengths are rows of a table because SQLite
-- refuses a recursive CTE in a trigger; SEARCH_PREFIX_MAX_LENGTH (src/db/schema.ts) is the same 6.
INSERT INTO `search_prefix_lengths` (`length`) VALUES (1), (2), (3), (4), (5), (6);
--> statement-breakpoint
-- A membership's prefixes follow its row, whichever statement writes it: the token's and the
-- webhooks' upserts (state, role), and the copies of the user (0003), which move a renamed,
-- deactivated or deleted user's keys and state onto each membership. Each enumerates the keys with
-- json_each and the lengths with the table above; substr counts characters, as the service's
-- prefix of q does.
--
-- On insert, the prefixes of the row as it now stands: memberships_copy_user (0003), on the same
-- insert, may have copied the user in already, and then the update trigger below wrote them.
CREATE TRIGGER `memberships_inserted_search_prefixes`
AFTER INSERT ON `memberships`
BEGIN
  INSERT INTO `member_search_prefixes`
    (`organization_id`, `prefix`, `last_name_key`, `first_name_key`, `user_id`, `role`)
  SELECT DISTINCT m.`organization_id`, substr(k.`value`, 1, n.`length`), m.`last_name_key`,
         m.`first_name_key`, m.`user_id`, m.`role`
  FROM `memberships` AS m
  JOIN json_each(json_array(m.`first_name_key`, m.`last_name_key`,
                            m.`first_name_key` || ' ' || m.`last_name_key`, m.`email_key`)) AS k
  JOIN `search_prefix_lengths` AS n ON n.`length` <= length(k.`value`)
  WHERE m.`workos_user_id` = NEW.`workos_user_id` AND m.`organization_id` = NEW.`organization_id`
    AND m.`state` = 'active' AND m.`user_state` = 'active'
    AND NOT EXISTS (
      SELECT 1 FROM `member_search_prefixes` AS p
      WHERE p.`organization_id` = m.`organization_id` AND p.`prefix` = substr(k.`value`, 1, n.`length`)
        AND p.`last_name_key` = m.`last_name_key` AND p.`first_name_key` = m.`first_name_key`
        AND p.`user_id` = m.`user_id`);
END;
--> statement-breakpoint
-- Only when a column the prefixes hold or depend on changed: the copies of a user rewrite every key
-- on each user.updated, and a sign-in changes none of them. The old prefixes go by primary key, the
-- new ones come in whole (a rename moves every row: the names are in the key).
CREATE TRIGGER `memberships_updated_search_prefixes`
AFTER UPDATE OF `organization_id`, `state`, `user_state`, `user_id`, `role`, `last_name_key`,
                `first_name_key`, `email_key` ON `memberships`
WHEN OLD.`organization_id` IS NOT NEW.`organization_id` OR OLD.`state` IS NOT NEW.`state`
  OR OLD.`user_state` IS NOT NEW.`user_state` OR OLD.`user_id` IS NOT NEW.`user_id`
  OR OLD.`role` IS NOT NEW.`role` OR OLD.`last_name_key` IS NOT NEW.`last_name_key`
  OR OLD.`first_name_key` IS NOT NEW.`first_name_key` OR OLD.`email_key` IS NOT NEW.`email_key`
BEGIN
  DELETE FROM `member_search_prefixes`
  WHERE `organization_id` = OLD.`organization_id`
    AND `prefix` IN (
      SELECT substr(k.`value`, 1, n.`length`)
      FROM json_each(json_array(OLD.`first_name_key`, OLD.`last_name_key`,
                                OLD.`first_name_key` || ' ' || OLD.`last_name_key`, OLD.`email_key`)) AS k
      JOIN `search_prefix_lengths` AS n ON n.`length` <= length(k.`value`))
    AND `last_name_key` = OLD.`last_name_key` AND `first_name_key` = OLD.`first_name_key`
    AND `user_id` = OLD.`user_id`;
  INSERT INTO `member_search_prefixes`
    (`organization_id`, `prefix`, `last_name_key`, `first_name_key`, `user_id`, `role`)
  SELECT DISTINCT NEW.`organization_id`, substr(k.`value`, 1, n.`length`), NEW.`last_name_key`,
         NEW.`first_name_key`, NEW.`user_id`, NEW.`role`
  FROM json_each(json_array(NEW.`first_name_key`, NEW.`last_name_key`,
                            NEW.`first_name_key` || ' ' || NEW.`last_name_key`, NEW.`email_key`)) AS k
  JOIN `search_prefix_lengths` AS n ON n.`length` <= length(k.`value`)
  WHERE NEW.`state` = 'active' AND NEW.`user_state` = 'active';
END;
--> statement-breakpoint
CREATE TRIGGER `memberships_deleted_search_prefixes`
AFTER DELETE ON `memberships`
BEGIN
  DELETE FROM `member_search_prefixes`
  WHERE `organization_id` = OLD.`organization_id`
    AND `prefix` IN (
      SELECT substr(k.`value`, 1, n.`length`)
      FROM json_each(json_array(OLD.`first_name_key`, OLD.`last_name_key`,
                                OLD.`first_name_key` || ' ' || OLD.`last_name_key`, OLD.`email_key`)) AS k
      JOIN `search_prefix_lengths` AS n ON n.`length` <= length(k.`value`))
    AND `last_name_key` = OLD.`last_name_key` AND `first_name_key` = OLD.`first_name_key`
    AND `user_id` = OLD.`user_id`;
END;
--> statement-breakpoint
-- The memberships listed now. GROUP BY both drops the duplicates and sorts the rows into the
-- primary key's order, so each lands at the end of the table's B-tree: one sort, where DISTINCT and an
-- ORDER BY take two (about 5 s for 100,000 memberships, locally, against 10).
INSERT INTO `member_search_prefixes`
  (`organization_id`, `prefix`, `last_name_key`, `first_name_key`, `user_id`, `role`)
SELECT m.`organization_id`, substr(k.`value`, 1, n.`length`), m.`last_name_key`, m.`first_name_key`,
       m.`user_id`, m.`role`
FROM `memberships` AS m
JOIN json_each(json_array(m.`first_name_key`, m.`last_name_key`,
                          m.`first_name_key` || ' ' || m.`last_name_key`, m.`email_key`)) AS k
JOIN `search_prefix_lengths` AS n ON n.`length` <= length(k.`value`)
WHERE m.`state` = 'active' AND m.`user_state` = 'active'
GROUP BY 1, 2, 3, 4, 5, 6;
