import type { User } from "../../db/schema";
import type { UserInRole } from "../../identity/memberships";
import type { Config } from "../../lib/config";
import { DEFAULT_THUMB_SIZE, type ThumbSize, thumbKeyFor } from "../../lib/object-keys";
import { presignThumbUrl } from "../../lib/presign";
import type { UserProfile } from "./users.schemas";

type Profile = (typeof UserProfile)["_output"];

export const toRfc3339 = (date: Date) => date.toISOString();

/** The size of the custom photo's thumbnail to show for `asked`: it, or 256 px for a photo from before there were sizes. */
const storedSize = (user: User, asked: ThumbSize): ThumbSize =>
  (user.profilePictureThumbSizes ?? [DEFAULT_THUMB_SIZE]).includes(asked) ? asked : DEFAULT_THUMB_SIZE;

/**
 * The wire shape of a user, its custom photo in the size `pictureSize` asks for. The thumbnail key
 * is derived from the upload id and the sizes ride on the users row, so a custom photo resolves to
 * its presigned URL without reading the upload row or R2.
 */
export async function toUserProfile(
  { user, role }: UserInRole,
  config: Config,
  pictureSize: ThumbSize,
): Promise<Profile> {
  const custom = user.profilePictureUploadId;
  return {
    id: user.id,
    email: user.email,
    emailVerified: user.emailVerified,
    firstName: user.firstName,
    lastName: user.lastName,
    profilePictureUrl: custom
      ? await presignThumbUrl(config, thumbKeyFor(custom, storedSize(user, pictureSize)))
      : user.workosProfilePictureUrl,
    role,
    state: user.state,
    lastLogin: user.lastLogin ? toRfc3339(user.lastLogin) : null,
    createdAt: toRfc3339(user.createdAt),
    hasCustomProfilePicture: custom !== null,
  };
}
