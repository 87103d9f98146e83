-- The sort and search keys of the users that were here at migration 0003 were folded by SQLite's
-- lower(), which folds ASCII only: "Élodie" kept its capital, so a search for "élodie" missed it and
-- the list sorted it apart. SQLite cannot fold the rest of Unicode, so this records which users to
-- fold again (those whose names or email hold a character outside printable ASCII; a user written
-- since 0003 has the right keys, and folding them again changes nothing), and the hourly job
-- (src/jobs/search-keys.ts) folds them with the service's own rule, in bounded batches. Deleted
-- users have no names left to fold (0010).
INSERT INTO `search_keys_to_refold` (`user_id`)
SELECT `id` FROM `users`
WHERE `state` <> 'deleted'
  AND (`first_name` GLOB '*[^ -~]*' OR `last_name` GLOB '*[^ -~]*' OR `email` GLOB '*[^ -~]*');
