import { and, asc, eq, getTableColumns, inArray, lte, type SQL, sql } from "drizzle-orm";
import { type AnySQLiteColumn, alias } from "drizzle-orm/sqlite-core";
import type { Database } from "../db/client";
import { type AuditVia, auditEvents, users } from "../db/schema";
import { isOneOf } from "../lib/d1";

/** The most of a `User-Agent` an event keeps: the header is the client's to make as long as it likes. */
export const MAX_AUDIT_USER_AGENT_LENGTH = 512;

/** Where a change came from, as the organization's audit log records it. */
export interface ChangeOrigin {
  /** The client's IP (`CF-Connecting-IP`). */
  location: string;
  /** At most `MAX_AUDIT_USER_AGENT_LENGTH` characters of it; null when none was sent. */
  userAgent: string | null;
  via: AuditVia;
}

/** Who changed a photo, whose, and from where: what the request knows and the rows do not. */
export interface AuditedChange extends ChangeOrigin {
  /** The change's write id: the event's id and `Idempotency-Key`. */
  writeId: string;
  /** The token's organization, whose audit log records it. */
  organizationId: string;
  /** The caller, by WorkOS id (the token's `sub`). */
  actorWorkosUserId: string;
  /** The user written: the caller (`/users/me`) or a user by id. */
  target: { workosUserId: string } | { userId: string };
}

/**
 * The change's event, for the batch that writes the change, right after its UPDATE: it inserts a
 * row only when that UPDATE changed the photo, which is when the target's `profile_picture_write_id`
 * is this change's (a no-op keeps the earlier id; a refusal writes nothing). The action, the new and
 * previous uploads and the write's time come from the row as written. The id is the write's, so a
 * retried batch (a lost reply) finds its event already there.
 */
export function recordAuditEvent(db: Database, change: AuditedChange, now: Date) {
  const target: SQL =
    "userId" in change.target
      ? eq(users.id, change.target.userId)
      : eq(users.workosUserId, change.target.workosUserId);
  return db
    .insert(auditEvents)
    .select(
      db
        .select({
          id: sql<string>`${change.writeId}`.as("id"),
          organizationId: sql<string>`${change.organizationId}`.as("organization_id"),
          action:
            sql<string>`CASE WHEN ${users.profilePictureUploadId} IS NULL THEN 'profile_picture.removed' ELSE 'profile_picture.updated' END`.as(
              "action",
            ),
          occurredAt: sql`${users.updatedAt}`.as("occurred_at"),
          actorWorkosUserId: sql<string>`${change.actorWorkosUserId}`.as("actor_workos_user_id"),
          targetWorkosUserId: sql`${users.workosUserId}`.as("target_workos_user_id"),
          location: sql<string>`${change.location}`.as("location"),
          userAgent: sql`${change.userAgent}`.as("user_agent"),
          uploadId: sql`${users.profilePictureUploadId}`.as("upload_id"),
          previousUploadId: sql`${users.previousProfilePictureUploadId}`.as("previous_upload_id"),
          via: sql<string>`${change.via}`.as("via"),
          state: sql<string>`'pending'`.as("state"),
          nextAttemptAt: sql`${now.getTime()}`.as("next_attempt_at"),
          createdAt: sql`${now.getTime()}`.as("created_at"),
          settledAt: sql`NULL`.as("settled_at"),
          refusal: sql`NULL`.as("refusal"),
        })
        .from(users)
        .where(and(target, eq(users.profilePictureWriteId, change.writeId))),
    )
    .onConflictDoNothing();
}

/** An event WorkOS accepted: settled, so no attempt sends it again. */
export const markDelivered = (db: Database, id: string, now: Date) =>
  db
    .update(auditEvents)
    .set({ state: "delivered", settledAt: now })
    .where(and(eq(auditEvents.id, id), eq(auditEvents.state, "pending")));

/** An event WorkOS refused for good (its body or schema): settled with the reason, never sent again. */
export const markRefused = (db: Database, id: string, refusal: string, now: Date) =>
  db
    .update(auditEvents)
    .set({ state: "refused", settledAt: now, refusal })
    .where(and(eq(auditEvents.id, id), eq(auditEvents.state, "pending")));

/** A retry the consumer scheduled: the hourly job leaves the event to it until then. */
export const postpone = (db: Database, id: string, until: Date) =>
  db
    .update(auditEvents)
    .set({ nextAttemptAt: until })
    .where(and(eq(auditEvents.id, id), eq(auditEvents.state, "pending")));

/** A user's name for the log: "First Last", else the email, else (a deleted user's tombstone) their WorkOS id. */
const nameOf = (row: Record<"firstName" | "lastName" | "email" | "workosUserId", AnySQLiteColumn>) =>
  sql<string>`coalesce(nullif(trim(${row.firstName} || ' ' || ${row.lastName}), ''), nullif(${row.email}, ''), ${row.workosUserId})`;

/**
 * The pending event with this id and the names of its actor and target as they are now (a user
 * erased since is named by id), or undefined (delivered, refused, forgotten or never written).
 */
export async function pendingAuditEvent(db: Database, id: string) {
  const actor = alias(users, "actor");
  const target = alias(users, "target");
  const [row] = await db
    .select({
      event: getTableColumns(auditEvents),
      actorName: sql<string>`coalesce(${nameOf(actor)}, ${auditEvents.actorWorkosUserId})`,
      targetName: sql<string>`coalesce(${nameOf(target)}, ${auditEvents.targetWorkosUserId})`,
    })
    .from(auditEvents)
    .leftJoin(actor, eq(actor.workosUserId, auditEvents.actorWorkosUserId))
    .leftJoin(target, eq(target.workosUserId, auditEvents.targetWorkosUserId))
    .where(and(eq(auditEvents.id, id), eq(auditEvents.state, "pending")));
  return row;
}

/**
 * Pending events due before `before`, oldest due first, through the partial index that holds only
 * pending ones: what the hourly job sends again. Each is moved to `retryFrom` in the same batch, so
 * the next run does not send it again while this send is still being worked.
 */
export async function takeOverdue(db: Database, before: Date, limit: number, retryFrom: Date) {
  const due = await db
    .select({ id: auditEvents.id })
    .from(auditEvents)
    // Written as the partial index's condition is, so the planner uses it (a bound value would not match).
    .where(and(sql`${auditEvents.state} = 'pending'`, lte(auditEvents.nextAttemptAt, before)))
    .orderBy(asc(auditEvents.nextAttemptAt))
    .limit(limit);
  const ids = due.map((row) => row.id);
  if (ids.length > 0) {
    await db
      .update(auditEvents)
      .set({ nextAttemptAt: retryFrom })
      .where(and(isOneOf(auditEvents.id, ids), eq(auditEvents.state, "pending")));
  }
  return ids;
}

/** Settled events older than `before`, at most `limit`, through the partial index of settled ones. */
export async function forgetSettled(db: Database, before: Date, limit: number): Promise<number> {
  const old = db
    .select({ id: auditEvents.id })
    .from(auditEvents)
    .where(lte(auditEvents.settledAt, before))
    .orderBy(asc(auditEvents.settledAt))
    .limit(limit);
  const forgotten = await db
    .delete(auditEvents)
    .where(inArray(auditEvents.id, old))
    .returning({ id: auditEvents.id });
  return forgotten.length;
}
