import { and, eq, getTableColumns, ne } from "drizzle-orm";
import type { Database } from "../../db/client";
import { memberships, type User, users } from "../../db/schema";
import type { CallerAccess } from "../../identity/memberships";
import type { Config } from "../../lib/config";
import { userNotFound } from "../../lib/errors";
import { thumbKeyFor } from "../../lib/object-keys";
import { presignThumbUrl } from "../../lib/presign";
import type { UserProfile } from "./users.schemas";

type Profile = (typeof UserProfile)["_output"];

/** A user as seen by a request, with their role in the organization the request is about. */
export interface UserInRole {
  user: User;
  role: string;
}

export const toRfc3339 = (date: Date) => date.toISOString();

/**
 * The wire shape of a user. The thumbnail key is derived from the upload id, so a custom photo
 * resolves to its presigned URL without reading the upload row.
 */
export async function toUserProfile({ user, role }: UserInRole, config: Config): Promise<Profile> {
  const custom = user.profilePictureUploadId;
  return {
    id: user.id,
    email: user.email,
    emailVerified: user.emailVerified,
    firstName: user.firstName,
    lastName: user.lastName,
    profilePictureUrl: custom
      ? await presignThumbUrl(config, thumbKeyFor(custom))
      : user.workosProfilePictureUrl,
    role,
    state: user.state,
    lastLogin: user.lastLogin ? toRfc3339(user.lastLogin) : null,
    createdAt: toRfc3339(user.createdAt),
    hasCustomProfilePicture: custom !== null,
  };
}

/**
 * The user `userId` as the caller may see them: the caller themself (in the token's role), or a
 * teammate, a user with an active membership of the caller's organization (in their role there).
 * Anyone else is the same 404 as no one.
 */
export async function findVisibleUser(
  db: Database,
  caller: User,
  access: CallerAccess,
  userId: string,
): Promise<UserInRole> {
  if (userId === caller.id) return { user: caller, role: access.role };
  if (access.organizationId === null) throw userNotFound();
  const [teammate] = await db
    .select({ user: getTableColumns(users), role: memberships.role })
    .from(users)
    .innerJoin(
      memberships,
      and(
        eq(memberships.workosUserId, users.workosUserId),
        eq(memberships.organizationId, access.organizationId),
        eq(memberships.state, "active"),
      ),
    )
    .where(and(eq(users.id, userId), ne(users.state, "deleted")))
    .limit(1);
  if (!teammate) throw userNotFound();
  return teammate;
}

/**
 * Who may change the profile picture of `target`, a user `findVisibleUser` returned: the user
 * themself, or an admin (by the token's role) for a teammate.
 */
export const canEdit = (caller: User, access: CallerAccess, target: User) =>
  caller.id === target.id || access.role === "admin";
