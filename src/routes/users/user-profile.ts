import type { UserInRole } from "../../identity/memberships";
import type { Config } from "../../lib/config";
import type { ThumbSize } from "../../lib/object-keys";
import { profilePicturesOf } from "../../pictures/avatar";
import type { UserProfile } from "./users.schemas";

type Profile = (typeof UserProfile)["_output"];

export const toRfc3339 = (date: Date) => date.toISOString();

/**
 * The wire shape of a user, its pictures in the size `pictureSize` asks for, resolved from the users
 * row alone (`profilePicturesOf`); an initials avatar is served from `apiOrigin`, the API's own.
 */
export async function toUserProfile(
  { user, role }: UserInRole,
  config: Config,
  pictureSize: ThumbSize,
  apiOrigin: string,
): Promise<Profile> {
  const pictures = await profilePicturesOf(user, config, apiOrigin, pictureSize);
  return {
    id: user.id,
    email: user.email,
    emailVerified: user.emailVerified,
    firstName: user.firstName,
    lastName: user.lastName,
    profilePictureUrl: pictures.profilePictureUrl,
    role,
    state: user.state,
    lastLogin: user.lastLogin ? toRfc3339(user.lastLogin) : null,
    createdAt: toRfc3339(user.createdAt),
    hasCustomProfilePicture: user.profilePictureUploadId !== null,
    avatarUrl: pictures.avatarUrl,
    avatarSource: pictures.avatarSource,
  };
}
