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
    `UPDATE users SET profile_picture_upload_id = ${q(viewerUpload)}, profile_picture_thumb_sizes = ${q(EVERY_SIZE)} WHERE id = ${q(VIEWER.id)};`,
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
 * Pending uploads two days old (garbage): the listed ids first, then the rest to CLEANUP_UPLOADS; and
 * CLEANUP_WEBHOOK_EVENTS processed event ids received 60 days ago, past their retention.
 */
export function cleanupSeedSql(storedIds) {
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
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ${CLEANUP_WEBHOOK_EVENTS})
INSERT INTO webhook_events (id, event, received_at)
SELECT 'event_' || substr(upper(hex(randomblob(13))), 1, 26), 'session.created', ${Date.now() - 60 * 24 * 3600 * 1000}
FROM seq;`;
}
