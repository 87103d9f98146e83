import { type SQL, sql } from "drizzle-orm";
import { type AnySQLiteColumn, index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { AUDIT_ACTIONS } from "../audit/action-schemas";
import type { ThumbSize } from "../lib/object-keys";

/** Times are stored as integer milliseconds since the epoch and leave the API as RFC 3339 UTC. */
const timestamp = (name: string) => integer(name, { mode: "timestamp_ms" });

/** A list of thumbnail sizes, stored as a JSON array (`[64,128,256,512]`). */
const thumbSizes = (name: string) => text(name, { mode: "json" }).$type<ThumbSize[]>();

export const userStates = ["active", "inactive", "deleted"] as const;
export type UserState = (typeof userStates)[number];

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    workosUserId: text("workos_user_id").notNull().unique(),
    email: text("email").notNull(),
    emailVerified: integer("email_verified", { mode: "boolean" }).notNull().default(false),
    firstName: text("first_name").notNull().default(""),
    lastName: text("last_name").notNull().default(""),
    /**
     * The names and email lower-cased by the service (`String.prototype.toLowerCase`, all of Unicode;
     * SQLite's own `lower()` folds ASCII only): the members list's sort and search keys, copied onto
     * each membership by trigger. Whatever writes the names writes these (`workosUserColumns`).
     */
    firstNameKey: text("first_name_key").notNull().default(""),
    lastNameKey: text("last_name_key").notNull().default(""),
    emailKey: text("email_key").notNull().default(""),
    workosProfilePictureUrl: text("workos_profile_picture_url"),
    state: text("state", { enum: userStates }).notNull().default("active"),
    lastLogin: timestamp("last_login"),
    /** WorkOS's own `updated_at` of the last user object applied; orders webhook events. */
    workosUpdatedAt: timestamp("workos_updated_at"),
    profilePictureUploadId: text("profile_picture_upload_id").references((): AnySQLiteColumn => uploads.id),
    /**
     * The thumbnail sizes of the custom photo, copied from its upload (`uploads.thumb_sizes`) by the
     * statement that sets it: an upload's thumbnails never change once it is ready, so a profile is
     * drawn from this row alone, whatever size it is asked in. Null: the 256 px one only (no photo,
     * or one completed before there were sizes).
     */
    profilePictureThumbSizes: thumbSizes("profile_picture_thumb_sizes"),
    /**
     * The id of the request whose PATCH (or one-call PUT) last changed the custom photo, set by the
     * same statement: a request whose reply was lost after its write committed, and whose retry then
     * misses because the version moved (`If-Match`), knows the write was its own.
     */
    profilePictureWriteId: text("profile_picture_write_id"),
    /**
     * The custom photo before that change (null: none), set by the same statement, so the change's
     * audit event (`audit_events`, written next in the same batch) names what it replaced.
     */
    previousProfilePictureUploadId: text("previous_profile_picture_upload_id"),
    /**
     * The picture WorkOS gave (`workos_profile_picture_url`), imported into R2 as an upload of the user's
     * (origin `import`, four sizes, like any ready photo): what `avatarUrl` shows when no custom photo is
     * set. Cleared by the write that changes the WorkOS URL, so it is always the import of the current one.
     */
    importedPictureUploadId: text("imported_picture_upload_id").references((): AnySQLiteColumn => uploads.id),
    /**
     * The WorkOS picture URL whose import has finished, imported or refused for good: the same URL is
     * never fetched again. Null while the current URL has not been tried (the import is due).
     */
    pictureImportUrl: text("picture_import_url"),
    /**
     * The bytes of the user's `attachment` uploads that are `pending` or `ready`: what
     * `MAX_ATTACHMENT_BYTES_PER_USER` bounds. Kept by triggers on `uploads` (migrations/0012), so
     * the insert that checks it reads one row, however many attachments the user has.
     */
    attachmentBytes: integer("attachment_bytes").notNull().default(0),
    createdAt: timestamp("created_at").notNull(),
    /**
     * When a key of the profile last changed, and so its version: every write that changes one moves
     * it forward, by at least 1 ms (`nextUpdatedAt`), so two changes never share a value.
     */
    updatedAt: timestamp("updated_at").notNull(),
  },
  (t) => [
    index("users_profile_picture_upload_id_idx").on(t.profilePictureUploadId),
    // The cleanup's "no user shows it" probe, for imports as for custom photos.
    index("users_imported_picture_upload_id_idx").on(t.importedPictureUploadId),
    // The hourly job's imports still due (`importDue`): only those rows are in it, however many users there are.
    index("users_picture_import_due_idx").on(t.id).where(importDue(t)),
  ],
);

/**
 * A user whose WorkOS picture has not been imported or refused yet: the partial index's condition and
 * the hourly job's, written once so the planner sees the same expression in both.
 */
export function importDue(t: {
  workosProfilePictureUrl: AnySQLiteColumn;
  pictureImportUrl: AnySQLiteColumn;
  state: AnySQLiteColumn;
}): SQL {
  return sql`${t.workosProfilePictureUrl} IS NOT NULL AND ${t.pictureImportUrl} IS NOT ${t.workosProfilePictureUrl} AND ${t.state} <> 'deleted'`;
}

/**
 * `updated_at` for a write that changes a key of the profile: now, or 1 ms past the stored value
 * when the clock has not moved past it (two writes in one millisecond, or a clock behind another
 * isolate's), so the profile's version changes with every change. For an UPDATE's (or an upsert's) SET.
 */
export const nextUpdatedAt = (now: Date) => sql<Date>`max(${now.getTime()}, ${users.updatedAt} + 1)`;

export const uploadKinds = ["image", "document", "other"] as const;
export type UploadKind = (typeof uploadKinds)[number];
export const uploadScopes = ["profile_picture", "attachment"] as const;
export type UploadScope = (typeof uploadScopes)[number];
export const uploadStates = ["pending", "ready", "failed"] as const;
export type UploadState = (typeof uploadStates)[number];
/** How an upload came: a client sent it (`upload`), or the service imported the user's WorkOS picture (`import`). */
export const uploadOrigins = ["upload", "import"] as const;
export type UploadOrigin = (typeof uploadOrigins)[number];

export const uploads = sqliteTable(
  "uploads",
  {
    id: text("id").primaryKey(),
    ownerId: text("owner_id")
      .notNull()
      .references((): AnySQLiteColumn => users.id),
    kind: text("kind", { enum: uploadKinds }).notNull(),
    scope: text("scope", { enum: uploadScopes }).notNull(),
    state: text("state", { enum: uploadStates }).notNull().default("pending"),
    contentType: text("content_type").notNull(),
    size: integer("size").notNull(),
    filename: text("filename"),
    objectKey: text("object_key").notNull().unique(),
    /** The 256 px thumbnail's key (`thumbUrl`), once a ready image. */
    thumbKey: text("thumb_key"),
    /**
     * The sizes stored at `thumbKeyFor(id, size)`, once a ready image; null for an image completed
     * before there were sizes, which has the 256 px one only.
     */
    thumbSizes: thumbSizes("thumb_sizes"),
    failureReason: text("failure_reason"),
    /** Imports are the service's own: no client sees or attaches them through the upload API. */
    origin: text("origin", { enum: uploadOrigins }).notNull().default("upload"),
    createdAt: timestamp("created_at").notNull(),
    updatedAt: timestamp("updated_at").notNull(),
    /**
     * Since when no user shows this ready profile picture (it became ready, or was replaced or
     * removed): the storage cleanup takes it 7 days later, finding it by this alone. Kept by what
     * settles an upload and by triggers on `users` (attached: null; detached, and shown by no one
     * else: now), so the cleanup reads garbage only, never the photos in use. Null for everything
     * else (pending, failed, attachments, and photos someone shows).
     */
    unreferencedSince: timestamp("unreferenced_since"),
    /**
     * When the owner was deleted (WorkOS `user.deleted`), written with the deletion: the cleanup's
     * next run takes these uploads (a pending or failed one once its upload URL has expired), finding
     * them by this alone rather than by every tombstone ever kept.
     */
    ownerDeletedAt: timestamp("owner_deleted_at"),
  },
  (t) => [
    // By owner, and by owner and state in age order: a user's pending uploads are counted (and
    // the oldest found) reading only those.
    index("uploads_owner_id_state_created_at_idx").on(t.ownerId, t.state, t.createdAt),
    index("uploads_state_created_at_idx").on(t.state, t.createdAt),
    // The cleanup's two kinds of garbage that are not pending or failed: each partial index holds
    // only those uploads, in the order they became garbage, however many photos are in use.
    index("uploads_unreferenced_since_idx")
      .on(t.unreferencedSince)
      .where(sql`${t.unreferencedSince} IS NOT NULL`),
    index("uploads_owner_deleted_at_idx").on(t.ownerDeletedAt).where(sql`${t.ownerDeletedAt} IS NOT NULL`),
  ],
);

export const membershipStates = ["active", "inactive", "pending", "deleted"] as const;
export type MembershipState = (typeof membershipStates)[number];

/**
 * A user's membership of a WorkOS organization, fed by access tokens and by the
 * `organization_membership.*` webhooks. Only `active` makes the user a teammate there.
 *
 * Keyed by the WorkOS user id, not `users.id`: WorkOS does not order `user.created` before a
 * user's membership events, so a membership may arrive before its user row exists and must not be
 * lost. `user_id`, `user_state` and the `*_key` columns are copies of the user's row, kept in step
 * by triggers (migrations/0003), so that one index serves both the organization filter and the
 * members list's order: a page reads 50 index entries whether the organization has 100 members or
 * 100,000.
 */
export const memberships = sqliteTable(
  "memberships",
  {
    workosUserId: text("workos_user_id").notNull(),
    organizationId: text("organization_id").notNull(),
    role: text("role").notNull(),
    state: text("state", { enum: membershipStates }).notNull(),
    /**
     * When the state or role last changed at its source: the token's `iat` or the event's
     * `updated_at`. A change older than this is stale and applies nothing.
     */
    changedAt: timestamp("changed_at").notNull(),
    userId: text("user_id"),
    userState: text("user_state", { enum: userStates }),
    /** Copies of the user's `*_key` columns: the list's sort and search keys. */
    lastNameKey: text("last_name_key").notNull().default(""),
    firstNameKey: text("first_name_key").notNull().default(""),
    emailKey: text("email_key").notNull().default(""),
  },
  (t) => [
    primaryKey({ columns: [t.workosUserId, t.organizationId] }),
    // The members list: equality on the first three, keyset order on the next three; the email key
    // rides along so a search filters on the index entry before reading the row.
    index("memberships_members_list_idx").on(
      t.organizationId,
      t.state,
      t.userState,
      t.lastNameKey,
      t.firstNameKey,
      t.userId,
      t.emailKey,
    ),
  ],
);

/**
 * The longest search prefix `member_search_prefixes` holds, in characters (code points, as SQLite's
 * `substr` counts them). `search_prefix_lengths` holds 1 to this (migration 0018); the two change together,
 * with a migration that rewrites the prefixes.
 */
export const SEARCH_PREFIX_MAX_LENGTH = 6;

/**
 * The numbers 1 to `SEARCH_PREFIX_MAX_LENGTH`: the prefix lengths the triggers enumerate (SQLite refuses a
 * recursive CTE in a trigger).
 */
export const searchPrefixLengths = sqliteTable("search_prefix_lengths", {
  length: integer("length").primaryKey(),
});

/**
 * The members list's search: one row per listed membership (membership and user both `active`) and
 * distinct prefix, 1 to `SEARCH_PREFIX_MAX_LENGTH` characters, of its first name, last name,
 * "first last" and email keys, keyed in the list's order after the organization and the prefix. So a
 * search is an equality on (organization, prefix) and a keyset range on the rest: a page reads `limit + 1`
 * entries, whatever the organization's size and whether anything matches. Kept by triggers on
 * `memberships` (migrations/0018), which follow the user through the key copies. WITHOUT ROWID (written into
 * migrations/0017 by hand: Drizzle cannot declare it): the primary key is the table, and `role` rides in it, so
 * a page joins only `users`.
 */
export const memberSearchPrefixes = sqliteTable(
  "member_search_prefixes",
  {
    organizationId: text("organization_id").notNull(),
    prefix: text("prefix").notNull(),
    lastNameKey: text("last_name_key").notNull(),
    firstNameKey: text("first_name_key").notNull(),
    userId: text("user_id").notNull(),
    role: text("role").notNull(),
  },
  (t) => [primaryKey({ columns: [t.organizationId, t.prefix, t.lastNameKey, t.firstNameKey, t.userId] })],
);

/**
 * WorkOS webhook event ids already applied, so a redelivery changes nothing. The storage cleanup
 * forgets them after `WEBHOOK_EVENT_RETENTION_MS`, oldest first by `received_at`.
 */
export const webhookEvents = sqliteTable(
  "webhook_events",
  {
    id: text("id").primaryKey(),
    event: text("event").notNull(),
    receivedAt: timestamp("received_at").notNull().default(sql`(unixepoch() * 1000)`),
  },
  (t) => [index("webhook_events_received_at_idx").on(t.receivedAt)],
);

/**
 * Uploads whose rows are gone and whose objects (the original, a thumbnail per size: keys derived
 * from the id) are still to be deleted from R2. Recorded in the batch that deletes the rows, so a
 * failed R2 delete, or an invocation that dies before it, leaves a record the storage cleanup's
 * next run retries; forgotten once R2 has deleted them. An id is recorded only when no upload row
 * has it any more, and ids are never reused, so its objects are garbage for good.
 */
export const uploadObjectsToDelete = sqliteTable(
  "upload_objects_to_delete",
  {
    uploadId: text("upload_id").primaryKey(),
    recordedAt: timestamp("recorded_at").notNull(),
  },
  (t) => [index("upload_objects_to_delete_recorded_at_idx").on(t.recordedAt)],
);

/**
 * Users whose sort and search keys may have been folded by SQLite's ASCII-only `lower()` (migration
 * 0003, for the rows there then), so a name or email with a non-ASCII capital ("Élodie") is not
 * found by a lower-case search nor sorted with its lower-case peers. Filled once by migration 0016
 * with the rows whose names or email hold a non-ASCII character; the hourly job
 * (`src/jobs/search-keys.ts`) folds their keys again with `searchKey` and forgets them. A row written
 * since then has the right keys already, so folding it again changes nothing.
 */
export const searchKeysToRefold = sqliteTable("search_keys_to_refold", {
  userId: text("user_id").primaryKey(),
});

export const auditVias = ["patch", "put"] as const;
export type AuditVia = (typeof auditVias)[number];
export const auditEventStates = ["pending", "delivered", "refused"] as const;

/**
 * The outbox of the organization's WorkOS audit log: one row for each change of a profile photo a
 * person made, written in the same batch as the change (so a change is never without its record),
 * and delivered through the queue (`src/audit/`). `pending` until WorkOS accepted it (`delivered`)
 * or refused it for good (`refused`, with WorkOS's reason); the hourly job sends again what is
 * pending and overdue, and forgets what is settled after a few days.
 */
export const auditEvents = sqliteTable(
  "audit_events",
  {
    /** The change's write id (`users.profile_picture_write_id`): also its `Idempotency-Key`, the same on every attempt. */
    id: text("id").primaryKey(),
    organizationId: text("organization_id").notNull(),
    action: text("action", { enum: AUDIT_ACTIONS }).notNull(),
    /** The write's time: the profile's `updated_at` that the change set. */
    occurredAt: timestamp("occurred_at").notNull(),
    /**
     * Who acted on whom, by WorkOS id only: their names are read when the event is sent, so that
     * `user.deleted` erases them here too (the event then names them by id).
     */
    actorWorkosUserId: text("actor_workos_user_id").notNull(),
    targetWorkosUserId: text("target_workos_user_id").notNull(),
    /** The client's IP (`CF-Connecting-IP`). */
    location: text("location").notNull(),
    userAgent: text("user_agent"),
    uploadId: text("upload_id"),
    previousUploadId: text("previous_upload_id"),
    via: text("via", { enum: auditVias }).notNull(),
    state: text("state", { enum: auditEventStates }).notNull().default("pending"),
    /**
     * When a pending event is next due: written with it (due at once: the request enqueues it), and
     * moved by a retry the consumer scheduled. The hourly job sends again what is overdue.
     */
    nextAttemptAt: timestamp("next_attempt_at").notNull(),
    createdAt: timestamp("created_at").notNull(),
    /** When it was delivered or refused. */
    settledAt: timestamp("settled_at"),
    /** WorkOS's reason for a refusal. */
    refusal: text("refusal"),
  },
  (t) => [
    // Each job reads only its own rows, however long the log: the overdue pending ones, and the settled ones by age.
    index("audit_events_due_idx").on(t.nextAttemptAt).where(sql`${t.state} = 'pending'`),
    index("audit_events_settled_at_idx").on(t.settledAt).where(sql`${t.settledAt} IS NOT NULL`),
  ],
);

export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;
export type Membership = typeof memberships.$inferSelect;
export type Upload = typeof uploads.$inferSelect;
export type NewUpload = typeof uploads.$inferInsert;
export type AuditEvent = typeof auditEvents.$inferSelect;
