-- `user.deleted` now blanks the person's personal data in the write that takes them out of service
-- (SECURITY-CASES 50): a tombstone keeps ids, state and times only. Tombstones written before kept
-- email, names, search keys, WorkOS picture URL and last sign-in: blank them the same way. The
-- trigger `users_updated_copy_to_memberships` (0003) carries the blank keys onto their memberships.
UPDATE `users`
SET `email` = '', `email_verified` = 0, `first_name` = '', `last_name` = '', `first_name_key` = '',
    `last_name_key` = '', `email_key` = '', `workos_profile_picture_url` = NULL, `last_login` = NULL
WHERE `state` = 'deleted';
