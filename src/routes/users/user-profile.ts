import { eq } from "drizzle-orm";
import type { Database } from "../../db/client";
import { type User, users } from "../../db/schema";
import type { Config } from "../../lib/config";
import { userNotFound } from "../../lib/errors";
import { thumbKeyFor } from "../../lib/object-keys";
import { presignThumbUrl } from "../../lib/presign";
import type { UserProfile } from "./users.schemas";

type Profile = (typeof UserProfile)["_output"];

export const toRfc3339 = (date: Date) => date.toISOString();

/**
 * The wire shape of a user. The thumbnail key is derived from the upload id, so a custom photo
 * resolves to its presigned URL without reading the upload row.
 */
export async function toUserProfile(user: User, config: Config): Promise<Profile> {
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
    role: user.role,
    state: user.state,
    lastLogin: user.lastLogin ? toRfc3339(user.lastLogin) : null,
    createdAt: toRfc3339(user.createdAt),
    hasCustomProfilePicture: custom !== null,
  };
}

/** Who may see a profile: the user themself, or any active member of the same organization. */
export function canView(caller: User, target: User): boolean {
  if (target.state === "deleted") return false;
  return caller.id === target.id || sameOrganization(caller, target);
}

export function sameOrganization(a: User, b: User): boolean {
  return a.organizationId !== null && a.organizationId === b.organizationId;
}

/** Who may change a profile picture: the user themself, or an admin of the same organization. */
export const canEdit = (caller: User, target: User) =>
  caller.id === target.id || (caller.role === "admin" && sameOrganization(caller, target));

export async function findVisibleUser(db: Database, caller: User, userId: string): Promise<User> {
  if (userId === caller.id) return caller;
  const target = await db.query.users.findFirst({ where: eq(users.id, userId) });
  if (!target || !canView(caller, target)) throw userNotFound();
  return target;
}
