import { z } from "@hono/zod-openapi";
import { and, eq, isNull, ne, or, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Database } from "../../db/client";
import { importDue, type NewUser, nextUpdatedAt, uploads, users, webhookEvents } from "../../db/schema";
import { type MembershipChange, upsertMembership } from "../../identity/memberships";
import { workosUserColumns } from "../../identity/provisioning";
import { WorkOSUser } from "../../identity/workos-api";
import { ApiError } from "../../lib/errors/api-error";

const isoDateTime = z.iso.datetime({ offset: true }).transform((value) => new Date(value));

/**
 * The envelope of every WorkOS event. `object` is optional because WorkOS's own examples of
 * webhook payloads leave it out; when present it must say `event`.
 * @see https://workos.com/docs/events
 */
export const WorkOSEvent = z
  .object({
    object: z.literal("event").optional(),
    id: z.string().min(1).max(255),
    event: z.string().min(1).max(255),
    data: z.record(z.string(), z.unknown()),
    created_at: isoDateTime.openapi({ type: "string", format: "date-time" }),
  })
  .openapi("WorkOSEvent", {
    description:
      "A WorkOS event. `user.*` events carry a WorkOS user object in `data`, `organization_membership.*` events a WorkOS organization membership.",
  });

export type WorkOSEvent = z.output<typeof WorkOSEvent>;

const DeletedUserData = z.object({ id: z.string().min(1).max(255) });

const slug = z.object({ slug: z.string().min(1).max(255) });

/**
 * A WorkOS organization membership, as `organization_membership.*` events carry it. Only the
 * fields used are checked; unknown fields (and unknown statuses, which count as not active) pass.
 * @see https://workos.com/docs/reference/authkit/organization-membership
 */
const MembershipData = z.object({
  user_id: z.string().min(1).max(255),
  organization_id: z.string().min(1).max(255),
  role: slug.nullish(),
  roles: z.array(slug).nullish(),
  status: z.string().min(1).max(64),
  updated_at: isoDateTime,
});

/** A `session.created` payload names the user in `user_id`; without one there is nothing to do. */
const SessionData = z.object({
  user_id: z.string().min(1).max(255).optional(),
  created_at: isoDateTime.optional(),
});

type Statement = BatchItem<"sqlite">;

/** A correctly signed body that is not a valid event. WorkOS, not the front end, reads this. */
export const invalidEvent = () => new ApiError("bad_request", "The body is not a valid WorkOS event.");

/** The event in a verified body; 400 when it is not UTF-8 JSON of the event envelope's shape. */
export function parseEvent(rawBody: Uint8Array): WorkOSEvent {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(rawBody));
  } catch {
    throw invalidEvent();
  }
  const parsed = WorkOSEvent.safeParse(json);
  if (!parsed.success) throw invalidEvent();
  return parsed.data;
}

/**
 * The writes an event calls for, to run in one batch (a D1 batch is a transaction) after the
 * statement that records the event id. Empty for events we do not act on; 400 when `data` does
 * not have the shape the event type promises.
 */
export function statementsFor(db: Database, event: WorkOSEvent): Statement[] {
  const now = new Date();
  switch (event.event) {
    case "user.created":
    case "user.updated": {
      const data = WorkOSUser.safeParse(event.data);
      if (!data.success) throw invalidEvent();
      return [upsertUser(db, data.data, now)];
    }
    case "user.deleted": {
      const data = DeletedUserData.safeParse(event.data);
      if (!data.success) throw invalidEvent();
      return [
        handOverPhoto(db, data.data.id),
        markUploadsOfDeleted(db, data.data.id, now),
        deleteUser(db, data.data.id, now),
      ];
    }
    case "organization_membership.created":
    case "organization_membership.updated":
    case "organization_membership.deleted": {
      const data = MembershipData.safeParse(event.data);
      if (!data.success) throw invalidEvent();
      return [upsertMembership(db, membershipChange(event, data.data))];
    }
    case "session.created": {
      const data = SessionData.safeParse(event.data);
      if (!data.success) throw invalidEvent();
      if (!data.data.user_id) return [];
      const signedInAt = data.data.created_at ?? event.created_at;
      return [
        db
          .update(users)
          .set({ lastLogin: signedInAt, updatedAt: nextUpdatedAt(now) })
          .where(
            and(
              eq(users.workosUserId, data.data.user_id),
              ne(users.state, "deleted"),
              or(sql`${users.lastLogin} IS NULL`, sql`${users.lastLogin} < ${signedInAt.getTime()}`),
            ),
          ),
      ];
    }
    default:
      return [];
  }
}

/**
 * Insert the user, or update the columns WorkOS owns, unless what is stored is as new or newer
 * (by WorkOS's `updated_at`) or the user was deleted. The custom profile picture and the state
 * are never touched; `last_login` only moves forward.
 */
function upsertUser(db: Database, workosUser: WorkOSUser, now: Date) {
  const columns = workosUserColumns(workosUser);
  return db
    .insert(users)
    .values({
      id: crypto.randomUUID(),
      workosUserId: workosUser.id,
      ...columns,
      state: "active",
      createdAt: workosUser.created_at,
      updatedAt: now,
    })
    .onConflictDoUpdate({
      target: users.workosUserId,
      set: {
        email: sql`excluded.email`,
        emailVerified: sql`excluded.email_verified`,
        firstName: sql`excluded.first_name`,
        lastName: sql`excluded.last_name`,
        firstNameKey: sql`excluded.first_name_key`,
        lastNameKey: sql`excluded.last_name_key`,
        emailKey: sql`excluded.email_key`,
        workosProfilePictureUrl: sql`excluded.workos_profile_picture_url`,
        // Another URL: the import of the old one is no longer shown (its upload goes with the
        // cleanup) and the new one is due; the same URL keeps what was imported or refused.
        importedPictureUploadId: sql`CASE WHEN excluded.workos_profile_picture_url IS ${users.workosProfilePictureUrl} THEN ${users.importedPictureUploadId} ELSE NULL END`,
        pictureImportUrl: sql`CASE WHEN excluded.workos_profile_picture_url IS ${users.workosProfilePictureUrl} THEN ${users.pictureImportUrl} ELSE NULL END`,
        lastLogin: sql`CASE WHEN ${users.lastLogin} IS NULL OR ${users.lastLogin} < excluded.last_login THEN excluded.last_login ELSE ${users.lastLogin} END`,
        workosUpdatedAt: sql`excluded.workos_updated_at`,
        updatedAt: nextUpdatedAt(now),
      },
      setWhere: and(
        ne(users.state, "deleted"),
        or(sql`${users.workosUpdatedAt} IS NULL`, sql`${users.workosUpdatedAt} < excluded.workos_updated_at`),
      ),
    });
}

/**
 * Make the user's custom photo theirs before it is detached, so the storage cleanup's next run
 * erases it with their other uploads (no grace period), also when someone else uploaded it: an
 * admin may have set a teammate's photo from the admin's own upload, and it is the deleted user's
 * photo all the same. An upload some live user still has as their photo stays while they do (the
 * cleanup only takes unreferenced uploads). Runs in the event's batch, before `deleteUser` clears
 * the reference; a user never seen, or already deleted, has no photo to hand over.
 */
function handOverPhoto(db: Database, workosUserId: string) {
  const theirs = db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.workosUserId, workosUserId), ne(users.state, "deleted")));
  const photo = db
    .select({ id: users.profilePictureUploadId })
    .from(users)
    .where(and(eq(users.workosUserId, workosUserId), ne(users.state, "deleted")));
  return db
    .update(uploads)
    .set({ ownerId: sql`(${theirs})` })
    .where(eq(uploads.id, sql`(${photo})`));
}

/**
 * Date the user's uploads with their deletion (the photo handed over just before included), in the
 * event's batch, before `deleteUser` marks the row deleted: the storage cleanup's next run finds them
 * by this alone, and never reads the tombstones again. A replay, once the user is deleted, marks
 * nothing more.
 */
function markUploadsOfDeleted(db: Database, workosUserId: string, now: Date) {
  const theirs = db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.workosUserId, workosUserId), ne(users.state, "deleted")));
  return db
    .update(uploads)
    .set({ ownerDeletedAt: now })
    .where(and(eq(uploads.ownerId, sql`(${theirs})`), isNull(uploads.ownerDeletedAt)));
}

/**
 * What a deleted user's row keeps of the person: nothing. Their email, names and the search keys
 * made of them (which triggers copy onto every membership), the WorkOS picture URL and the last
 * sign-in are blanked; ids, state and times stay, a tombstone (SECURITY-CASES 50).
 */
const erasedPersonalData = {
  email: "",
  emailVerified: false,
  firstName: "",
  lastName: "",
  firstNameKey: "",
  lastNameKey: "",
  emailKey: "",
  workosProfilePictureUrl: null,
  lastLogin: null,
} satisfies Partial<NewUser>;

/**
 * Take the user out of service, erase their personal data and detach their custom photo in one
 * write (the storage cleanup then deletes their uploads). Deletion is final whatever its
 * timestamp. A user never seen gets a row too, in state `deleted` and with nothing of theirs: that
 * row is how a deleted WorkOS id is remembered, so a `user.created` or `user.updated` delivered
 * late, or a still-valid token's just-in-time provisioning, finds it and brings no one back (both
 * leave deleted rows alone).
 */
function deleteUser(db: Database, workosUserId: string, now: Date) {
  return db
    .insert(users)
    .values({
      id: crypto.randomUUID(),
      workosUserId,
      ...erasedPersonalData,
      state: "deleted",
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoUpdate({
      target: users.workosUserId,
      set: {
        ...erasedPersonalData,
        state: "deleted",
        profilePictureUploadId: null,
        profilePictureThumbSizes: null,
        importedPictureUploadId: null,
        pictureImportUrl: null,
        updatedAt: nextUpdatedAt(now),
      },
      setWhere: ne(users.state, "deleted"),
    });
}

/**
 * The change a membership event makes: its status (only `active` makes a teammate), its role, as
 * of the membership's `updated_at`. A deletion is dated no earlier than the event itself: WorkOS
 * need not move `updated_at` when it deletes, and a token issued between the membership's last
 * update and its deletion must not outrank the deletion.
 */
function membershipChange(event: WorkOSEvent, data: z.output<typeof MembershipData>): MembershipChange {
  const deleted = event.event === "organization_membership.deleted";
  const changedAt = deleted
    ? new Date(Math.max(data.updated_at.getTime(), event.created_at.getTime()))
    : data.updated_at;
  const status = data.status === "active" || data.status === "pending" ? data.status : "inactive";
  return {
    workosUserId: data.user_id,
    organizationId: data.organization_id,
    role: data.role?.slug ?? data.roles?.[0]?.slug ?? "member",
    state: deleted ? "deleted" : status,
    changedAt,
    source: "event",
  };
}

/**
 * For a `user.created` or `user.updated` that gives the user a picture: a read, to run last in the
 * event's batch, of whether its import is due after the event's write (a new user, another URL). The
 * webhook enqueues it then, and only then: the same URL again changes nothing.
 */
export function importDueAfter(db: Database, event: WorkOSEvent) {
  if (event.event !== "user.created" && event.event !== "user.updated") return undefined;
  const data = WorkOSUser.safeParse(event.data);
  if (!data.success || !data.data.profile_picture_url) return undefined;
  return db
    .select({ workosUserId: users.workosUserId, url: users.workosProfilePictureUrl })
    .from(users)
    .where(and(eq(users.workosUserId, data.data.id), importDue(users)));
}

/**
 * Whether the event's id is recorded with its write, so a redelivery does nothing at all. Not for
 * `session.created`: its write moves `last_login` only forward, so a redelivery changes nothing by
 * itself; and it comes once a sign-in, by far the most frequent event, so recording it would keep
 * a row for every sign-in of the last 30 days. The others are guarded as well (WorkOS's `updated_at`,
 * a membership's time, a deletion being final) but come once a change of a user or a membership:
 * recording them costs little, and spares a redelivery of `user.created` its write and a second
 * import of the user's picture.
 */
export const recordsItsId = (event: WorkOSEvent) => event.event !== "session.created";

/** Records the event id; fails (and so rolls back the whole batch) when it was seen before. */
export const recordEvent = (db: Database, event: WorkOSEvent) =>
  db.insert(webhookEvents).values({ id: event.id, event: event.event });

export async function wasProcessed(db: Database, eventId: string): Promise<boolean> {
  const row = await db.query.webhookEvents.findFirst({ where: eq(webhookEvents.id, eventId) });
  return row !== undefined;
}
