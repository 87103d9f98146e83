import { and, eq, exists, getTableColumns, ne, type SQL, sql } from "drizzle-orm";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Database } from "../db/client";
import { type Membership, type MembershipState, memberships, type User, users } from "../db/schema";
import { ApiError } from "../lib/errors/api-error";
import type { AccessTokenClaims } from "./access-token";

/**
 * What a request may do, from its token alone: the token's role, and the organization whose
 * members the caller sees and (as an admin) acts on. Nothing here is remembered from an earlier
 * token.
 */
export interface CallerAccess {
  /** The token's `role`; a token without one acts as a member. */
  role: string;
  /**
   * The token's `org_id` while the caller's membership there is active; `null` for a token without
   * one, or after the caller was removed from it: then the caller has no teammates.
   */
  organizationId: string | null;
}

/** A user as seen by a request, with their role in the organization the request is about. */
export interface UserInRole {
  user: User;
  role: string;
}

export const tokenRole = (claims: AccessTokenClaims) => claims.role ?? "member";

/** A membership's state and role as of `changedAt`, from a token or a WorkOS event. */
export interface MembershipChange {
  workosUserId: string;
  organizationId: string;
  role: string;
  state: MembershipState;
  changedAt: Date;
  /**
   * Who speaks: a WorkOS event is written whenever it is newer, also when it changes nothing, so
   * its time outranks every older event delivered after it; a token only when it differs, so a
   * request does not write on every call.
   */
  source: "token" | "event";
}

export type StoredMembership = Pick<Membership, "state" | "role" | "changedAt">;

/**
 * The membership a token vouches for: active in its `org_id` with its role, as of its `iat`.
 * `undefined` when the token names no organization, or has no `iat` to order it by. A token dated
 * ahead of our clock counts as issued now, so a skewed clock cannot make later changes look stale.
 */
export function membershipFromToken(
  claims: AccessTokenClaims,
  nowMs: number = Date.now(),
): MembershipChange | undefined {
  if (claims.org_id === undefined || claims.iat === undefined) return undefined;
  return {
    workosUserId: claims.sub,
    organizationId: claims.org_id,
    role: tokenRole(claims),
    state: "active",
    changedAt: new Date(Math.min(claims.iat * 1000, nowMs)),
    source: "token",
  };
}

/** Whether `upsertMembership(change)` would write over `stored` (missing: it would insert). */
export function changesStored(stored: StoredMembership | null, change: MembershipChange): boolean {
  return (
    stored === null ||
    (stored.changedAt.getTime() < change.changedAt.getTime() &&
      (change.source === "event" || stored.state !== change.state || stored.role !== change.role))
  );
}

/**
 * Record `change` in one conditional statement: insert the membership, or update it when the
 * change is newer than the stored one (a token's only when it also differs); otherwise write
 * nothing, and never move `changed_at` back. Tokens and webhook events both go through here, so
 * one clock orders them: a token issued before a removal never brings the membership back, and an
 * event older than the newest one stored changes nothing, even when the newest changed nothing
 * itself (created, deleted, deleted again, then the delayed re-creation between them: removed).
 */
export function upsertMembership(db: Database, change: MembershipChange) {
  const { source, ...membership } = change;
  const newer = sql`${memberships.changedAt} < excluded.changed_at`;
  return db
    .insert(memberships)
    .values(membership)
    .onConflictDoUpdate({
      target: [memberships.workosUserId, memberships.organizationId],
      set: {
        role: sql`excluded.role`,
        state: sql`excluded.state`,
        changedAt: sql`excluded.changed_at`,
      },
      setWhere:
        source === "event"
          ? newer
          : sql`${newer} AND (${memberships.state} IS NOT excluded.state OR ${memberships.role} IS NOT excluded.role)`,
    });
}

/** The stored membership of a user in an organization, if any. */
export async function findMembership(
  db: Database,
  workosUserId: string,
  organizationId: string,
): Promise<StoredMembership | null> {
  const [row] = await db
    .select({ state: memberships.state, role: memberships.role, changedAt: memberships.changedAt })
    .from(memberships)
    .where(and(eq(memberships.workosUserId, workosUserId), eq(memberships.organizationId, organizationId)))
    .limit(1);
  return row ?? null;
}

/**
 * The caller's access for this request. Records the token's membership when it is missing or
 * differs and the token is newer than its last change (a write only then), and answers whether
 * the caller is an active member of the token's organization afterwards. `stored` is what a read
 * already saw (`null`: no membership), or `undefined` when nothing was read yet.
 */
export async function settleAccess(
  db: Database,
  claims: AccessTokenClaims,
  stored: StoredMembership | null | undefined,
): Promise<CallerAccess> {
  const role = tokenRole(claims);
  if (claims.org_id === undefined) return { role, organizationId: null };
  let membership = stored;
  const change = membershipFromToken(claims);
  if (change && (membership === undefined || changesStored(membership, change))) {
    const [written] = await upsertMembership(db, change).returning({
      state: memberships.state,
      role: memberships.role,
      changedAt: memberships.changedAt,
    });
    // Nothing written: what is stored is as new or newer (maybe written meanwhile). Read it.
    membership = written ?? (await findMembership(db, claims.sub, claims.org_id));
  } else if (membership === undefined) {
    membership = await findMembership(db, claims.sub, claims.org_id);
  }
  return { role, organizationId: membership?.state === "active" ? claims.org_id : null };
}

/**
 * In a statement: the user `workosUserId` names and the token's user are teammates, both active
 * members of the token's organization (the statement's side of `findVisibleUser`). Undefined for a
 * token without an organization, which has no teammates.
 */
export function areTeammates(
  db: Database,
  workosUserId: AnySQLiteColumn,
  claims: AccessTokenClaims,
): SQL | undefined {
  if (claims.org_id === undefined) return undefined;
  return and(isActiveMember(db, workosUserId, claims.org_id), isActiveMember(db, claims.sub, claims.org_id));
}

/** `workosUserId` is an active member of `organizationId`: an indexed lookup on the membership's primary key. */
function isActiveMember(db: Database, workosUserId: AnySQLiteColumn | string, organizationId: string): SQL {
  return exists(
    db
      .select({ one: sql`1` })
      .from(memberships)
      .where(
        and(
          eq(memberships.workosUserId, workosUserId),
          eq(memberships.organizationId, organizationId),
          eq(memberships.state, "active"),
        ),
      ),
  );
}

/**
 * The user `userId` as the caller may see them: the caller themself (in the token's role), or a
 * teammate, a user who is not deleted with an active membership of the caller's organization (in
 * their role there). Anyone else: undefined, the same as no one.
 */
export async function findVisibleUser(
  db: Database,
  caller: User,
  access: CallerAccess,
  userId: string,
): Promise<UserInRole | undefined> {
  if (userId === caller.id) return { user: caller, role: access.role };
  if (access.organizationId === null) return undefined;
  const [teammate] = await teammateById(db, access.organizationId, userId);
  return teammate;
}

/** `findVisibleUser`, or 404 `user_not_found`. */
export async function requireVisibleUser(
  db: Database,
  caller: User,
  access: CallerAccess,
  userId: string,
): Promise<UserInRole> {
  const visible = await findVisibleUser(db, caller, access, userId);
  if (!visible) throw new ApiError("user_not_found");
  return visible;
}

/** The statement behind `findVisibleUser`: a user who is not deleted, by id, with their active membership. */
export function teammateById(db: Database, organizationId: string, userId: string) {
  return db
    .select({ user: getTableColumns(users), role: memberships.role })
    .from(users)
    .innerJoin(
      memberships,
      and(
        eq(memberships.workosUserId, users.workosUserId),
        eq(memberships.organizationId, organizationId),
        eq(memberships.state, "active"),
      ),
    )
    .where(and(eq(users.id, userId), ne(users.state, "deleted")))
    .limit(1);
}
