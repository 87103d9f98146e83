// The benchmark's data. The caller (DEMO_USER) owns 100 ready profile-picture uploads and is the one the
// PATCH changes; "viewer" (with a custom photo), "plain" (without: initials) and "imported" (their
// WorkOS picture imported) are only read, so the GET phases see the same profile whatever the PATCH
// slices did (the viewer's PATCH with If-Match sets the photo they have: it changes nothing); 96 more
// teammates, all without a photo (a page of initials avatars); and a second organization of 50 members
// with custom photos (a page that presigns every photo). Ready uploads have every thumbnail size. The
// large database is a copy grown to 100,000 users and 100,000 uploads with recursive CTEs (seconds,
// not minutes), and as many processed webhook events. Object keys
// follow the service's own scheme (src/lib/object-keys.ts).
import { originalKeyFor, THUMB_SIZES, thumbKeyFor } from "../../src/lib/object-keys.ts";
import { DEMO_USER } from "../dev-keys.mjs";
import {
  CALLER_UPLOADS,
  CLEANUP_UPLOADS,
  CLEANUP_WEBHOOK_EVENTS,
  LARGE_UPLOADS,
  LARGE_USERS,
  MEMBERS_PAGE,
  MILLION_TOMBSTONES,
  MILLION_USERS,
  SMALL_USERS,
} from "./options.mjs";

/** A value as an SQL literal. */
export const q = (value) =>
  value === null
    ? "NULL"
    : typeof value === "number"
      ? String(value)
      : `'${String(value).replaceAll("'", "''")}'`;
const USER_COLUMNS =
  "id, workos_user_id, email, email_verified, first_name, last_name, first_name_key, last_name_key, email_key, state, last_login, created_at, updated_at";
const MEMBERSHIP_COLUMNS = "workos_user_id, organization_id, role, state, changed_at";
const UPLOAD_COLUMNS =
  "id, owner_id, kind, scope, state, content_type, size, filename, object_key, thumb_key, thumb_sizes, created_at, updated_at";
/** What `complete` records for an image it made every thumbnail of. */
const EVERY_SIZE = JSON.stringify(THUMB_SIZES);
export const VIEWER = { id: crypto.randomUUID(), sub: "user_bench_viewer", email: "viewer@example.com" };
export const PLAIN = { id: crypto.randomUUID(), sub: "user_bench_plain", email: "plain@example.com" };
/** A user whose WorkOS picture was imported: their avatar is the import's thumbnail. */
export const IMPORTED = {
  id: crypto.randomUUID(),
  sub: "user_bench_imported",
  email: "imported@example.com",
};
export const importedUpload = crypto.randomUUID();
/**
 * An organization of `MEMBERS_PAGE` members who all have a custom photo, of which PLAIN is a member
 * too: a page of it presigns every photo, as every page did before there were avatars, beside the
 * demo organization's pages of initials.
 */
export const PHOTOS_ORG = "org_bench_photos";
const photoMembers = Array.from({ length: MEMBERS_PAGE }, (_, i) => ({
  id: crypto.randomUUID(),
  sub: `user_bench_photo_${i}`,
  email: `photo${i}@example.com`,
  upload: crypto.randomUUID(),
}));
export const callerUploads = Array.from({ length: CALLER_UPLOADS }, () => crypto.randomUUID());
export const viewerUpload = crypto.randomUUID();
/** The write that set the viewer's photo: the id its audit event carries (rows-read.mjs). */
export const viewerWriteId = crypto.randomUUID();

/** `keyFor` applied in SQL to the id that `idExpression` computes. */
function keyExpression(keyFor, idExpression) {
  const [before, after] = keyFor("\0").split("\0");
  return `${q(before)} || ${idExpression} || ${q(after)}`;
}

/** Every user of both databases is a member of the demo organization: the members list's worst case. */
export function smallSeedSql() {
  const now = Date.now();
  const user = ({ id, sub, email }, i) => {
    const [first, last] = [`First${i}`, `Last${(i * 37) % SMALL_USERS}`];
    const keys = [first, last, email].map((text) => text.toLowerCase());
    return `(${[id, sub, email, 1, first, last, ...keys, "active", now, now, now].map(q).join(", ")})`;
  };
  const membership = ({ sub }) =>
    `(${[sub, DEMO_USER.org, DEMO_USER.role, "active", now].map(q).join(", ")})`;
  const upload = (id, owner) =>
    `(${[id, owner, "image", "profile_picture", "ready", "image/jpeg", 123_456, "photo.jpg", originalKeyFor(id), thumbKeyFor(id), EVERY_SIZE, now, now].map(q).join(", ")})`;
  const teammates = Array.from({ length: SMALL_USERS - 4 }, (_, i) => ({
    id: crypto.randomUUID(),
    sub: `user_bench_small_${i}`,
    email: `small${i}@example.com`,
  }));
  const everyone = [DEMO_USER, VIEWER, PLAIN, IMPORTED, ...teammates];
  const photosMembership = ({ sub }) => `(${[sub, PHOTOS_ORG, "member", "active", now].map(q).join(", ")})`;
  return [
    `INSERT INTO users (${USER_COLUMNS}) VALUES\n${[...everyone, ...photoMembers].map(user).join(",\n")};`,
    `INSERT INTO memberships (${MEMBERSHIP_COLUMNS}) VALUES\n${everyone.map(membership).join(",\n")};`,
    `INSERT INTO memberships (${MEMBERSHIP_COLUMNS}) VALUES\n${[PLAIN, ...photoMembers].map(photosMembership).join(",\n")};`,
    `INSERT INTO uploads (${UPLOAD_COLUMNS}) VALUES\n${[
      ...callerUploads.map((id) => upload(id, DEMO_USER.id)),
      upload(viewerUpload, VIEWER.id),
      upload(importedUpload, IMPORTED.id),
      ...photoMembers.map((member) => upload(member.upload, member.id)),
    ].join(",\n")};`,
    `UPDATE uploads SET origin = 'import' WHERE id = ${q(importedUpload)};`,
    `UPDATE users SET workos_profile_picture_url = 'https://lh3.googleusercontent.com/a/bench', picture_import_url = 'https://lh3.googleusercontent.com/a/bench', imported_picture_upload_id = ${q(importedUpload)} WHERE id = ${q(IMPORTED.id)};`,
    ...photoMembers.map(
      (member) =>
        `UPDATE users SET profile_picture_upload_id = ${q(member.upload)}, profile_picture_thumb_sizes = ${q(EVERY_SIZE)} WHERE id = ${q(member.id)};`,
    ),
    `UPDATE users SET profile_picture_upload_id = ${q(callerUploads[0])}, profile_picture_thumb_sizes = ${q(EVERY_SIZE)} WHERE id = ${q(DEMO_USER.id)};`,
    `UPDATE users SET profile_picture_upload_id = ${q(viewerUpload)}, profile_picture_thumb_sizes = ${q(EVERY_SIZE)}, profile_picture_write_id = ${q(viewerWriteId)} WHERE id = ${q(VIEWER.id)};`,
    // As complete and the triggers leave them: a ready photo no one shows is dated for the cleanup.
    `UPDATE uploads SET unreferenced_since = updated_at WHERE scope = 'profile_picture' AND state = 'ready' AND id NOT IN (SELECT profile_picture_upload_id FROM users WHERE profile_picture_upload_id IS NOT NULL) AND id NOT IN (SELECT imported_picture_upload_id FROM users WHERE imported_picture_upload_id IS NOT NULL);`,
  ].join("\n");
}

/** A v4-shaped UUID from `h`, a column of 32 random hex digits. */
const uuidFrom = (h) =>
  `substr(${h},1,8)||'-'||substr(${h},9,4)||'-4'||substr(${h},14,3)||'-8'||substr(${h},18,3)||'-'||substr(${h},21,12)`;

export function largeSeedSql() {
  const now = Date.now();
  // Recursive CTE rows are computed once each, so `h` is one random value per row. Names come from
  // it too, so the list's sort keys are spread like real ones (the memberships' copies of them are
  // written by the migrations' triggers as the rows go in).
  return `
WITH RECURSIVE seq(i, h) AS (
  SELECT 1, lower(hex(randomblob(16)))
  UNION ALL SELECT i + 1, lower(hex(randomblob(16))) FROM seq WHERE i < ${LARGE_USERS - SMALL_USERS}
)
INSERT INTO users (${USER_COLUMNS})
SELECT ${uuidFrom("h")}, 'user_bench_large_' || i, 'large' || i || '@example.com', 1,
       'First' || substr(h, 1, 4), 'Last' || substr(h, 5, 4),
       'first' || substr(h, 1, 4), 'last' || substr(h, 5, 4), 'large' || i || '@example.com',
       'active', ${now}, ${now}, ${now}
FROM seq;
INSERT INTO memberships (${MEMBERSHIP_COLUMNS})
SELECT workos_user_id, ${q(DEMO_USER.org)}, 'member', 'active', ${now}
FROM users WHERE workos_user_id LIKE 'user_bench_large_%';
-- A delivered WorkOS event each (ids as WorkOS writes them: "event_" and a 26-character ULID), for the
-- storage a processed event id takes.
INSERT INTO webhook_events (id, event, received_at)
SELECT 'event_' || substr(upper(hex(randomblob(13))), 1, 26), 'session.created', ${now}
FROM users WHERE workos_user_id LIKE 'user_bench_large_%';
WITH owners(owner, h) AS MATERIALIZED (
  SELECT id, lower(hex(randomblob(16))) FROM users WHERE workos_user_id LIKE 'user_bench_large_%'
  LIMIT ${LARGE_UPLOADS - CALLER_UPLOADS - 1}
)
INSERT INTO uploads (${UPLOAD_COLUMNS})
SELECT ${uuidFrom("h")}, owner, 'image', 'profile_picture', 'ready', 'image/jpeg', 123456, 'photo.jpg',
       ${keyExpression(originalKeyFor, uuidFrom("h"))}, ${keyExpression(thumbKeyFor, uuidFrom("h"))}, ${q(EVERY_SIZE)}, ${now}, ${now}
FROM owners;`;
}

/**
 * The 100,000-user database grown to a million users, for rows read: every user has a photo in use
 * (an upload of theirs, ready, every size, set as their custom photo, so none of it is garbage; the
 * 100,000's own uploads are attached too), the 100,000 are still the demo organization's members, and
 * MILLION_TOMBSTONES of the added users were deleted long ago (tombstones, their uploads gone). What a
 * request or an idle cleanup run reads must not grow with any of it.
 */
export function millionSeedSql() {
  const now = Date.now();
  const longAgo = now - 400 * 24 * 3600 * 1000;
  const added = MILLION_USERS - LARGE_USERS;
  return `
WITH RECURSIVE seq(i, h) AS (
  SELECT 1, lower(hex(randomblob(16)))
  UNION ALL SELECT i + 1, lower(hex(randomblob(16))) FROM seq WHERE i < ${added}
)
INSERT INTO users (${USER_COLUMNS})
SELECT ${uuidFrom("h")}, 'user_bench_million_' || i, 'million' || i || '@example.com', 1,
       'First' || substr(h, 1, 4), 'Last' || substr(h, 5, 4),
       'first' || substr(h, 1, 4), 'last' || substr(h, 5, 4), 'million' || i || '@example.com',
       'active', ${now}, ${now}, ${now}
FROM seq;
WITH owners(owner, h) AS MATERIALIZED (
  SELECT id, lower(hex(randomblob(16))) FROM users WHERE workos_user_id LIKE 'user_bench_million_%'
)
INSERT INTO uploads (${UPLOAD_COLUMNS})
SELECT ${uuidFrom("h")}, owner, 'image', 'profile_picture', 'ready', 'image/jpeg', 123456, 'photo.jpg',
       ${keyExpression(originalKeyFor, uuidFrom("h"))}, ${keyExpression(thumbKeyFor, uuidFrom("h"))}, ${q(EVERY_SIZE)}, ${longAgo}, ${longAgo}
FROM owners;
UPDATE users SET profile_picture_upload_id = (SELECT id FROM uploads WHERE uploads.owner_id = users.id LIMIT 1),
                 profile_picture_thumb_sizes = ${q(EVERY_SIZE)}
WHERE workos_user_id LIKE 'user_bench_million_%' OR workos_user_id LIKE 'user_bench_large_%';
UPDATE users SET state = 'deleted', email = '', first_name = '', last_name = '', first_name_key = '',
                 last_name_key = '', email_key = '', profile_picture_upload_id = NULL,
                 profile_picture_thumb_sizes = NULL, updated_at = ${longAgo}
WHERE workos_user_id LIKE 'user_bench_million_%' AND CAST(substr(workos_user_id, 20) AS INTEGER) > ${added - MILLION_TOMBSTONES};
DELETE FROM uploads WHERE owner_id IN (SELECT id FROM users WHERE state = 'deleted');`;
}

/**
 * Pending uploads two days old (garbage): the listed ids first, then the rest to CLEANUP_UPLOADS; and
 * CLEANUP_WEBHOOK_EVENTS processed event ids received 60 days ago, past their retention.
 */
export function cleanupSeedSql(storedIds, { webhookEvents = CLEANUP_WEBHOOK_EVENTS } = {}) {
  const at = Date.now() - 2 * 24 * 3600 * 1000;
  const row = (id) =>
    `(${[id, DEMO_USER.id, "image", "profile_picture", "pending", "image/jpeg", 1, null, originalKeyFor(id), null, null, at, at].map(q).join(", ")})`;
  // D1 refuses statements over 100 KB: the listed rows go 100 to an INSERT.
  const listed = [];
  for (let i = 0; i < storedIds.length; i += 100) {
    listed.push(
      `INSERT INTO uploads (${UPLOAD_COLUMNS}) VALUES\n${storedIds
        .slice(i, i + 100)
        .map(row)
        .join(",\n")};`,
    );
  }
  return `
${listed.join("\n")}
WITH RECURSIVE seq(i, h) AS (
  SELECT 1, lower(hex(randomblob(16)))
  UNION ALL SELECT i + 1, lower(hex(randomblob(16))) FROM seq WHERE i < ${CLEANUP_UPLOADS - storedIds.length}
)
INSERT INTO uploads (${UPLOAD_COLUMNS})
SELECT ${uuidFrom("h")}, ${q(DEMO_USER.id)}, 'image', 'profile_picture', 'pending', 'image/jpeg', 1, NULL,
       ${keyExpression(originalKeyFor, uuidFrom("h"))}, NULL, NULL, ${at}, ${at}
FROM seq;
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ${webhookEvents})
INSERT INTO webhook_events (id, event, received_at)
SELECT 'event_' || substr(upper(hex(randomblob(13))), 1, 26), 'session.created', ${Date.now() - 60 * 24 * 3600 * 1000}
FROM seq;`;
}
