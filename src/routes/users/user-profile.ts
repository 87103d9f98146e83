import type { UserInRole } from "../../identity/memberships";
import type { Config } from "../../lib/config";
import { thumbKeyFor } from "../../lib/object-keys";
import { presignThumbUrl } from "../../lib/presign";
import type { UserProfile } from "./users.schemas";

type Profile = (typeof UserProfile)["_output"];

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
