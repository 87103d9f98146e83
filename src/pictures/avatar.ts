import type { User } from "../db/schema";
import type { Config } from "../lib/config";
import { DEFAULT_THUMB_SIZE, type ThumbSize, thumbKeyFor } from "../lib/object-keys";
import { presignThumbUrl } from "../lib/presign";
import { initialsOf, paletteIndexOf } from "./initials";
import { initialsImageUrl } from "./initials-url";

/** Where `avatarUrl` comes from: the custom photo, the imported WorkOS picture, or generated initials. */
export const AVATAR_SOURCES = ["custom", "identity_provider", "initials"] as const;
export type AvatarSource = (typeof AVATAR_SOURCES)[number];

/** A profile's pictures, in one size. */
export interface ProfilePictures {
  /** The seed's meaning: the custom photo's thumbnail, else the URL WorkOS gave (or null). */
  profilePictureUrl: string | null;
  /** What a client draws for the user, never null. */
  avatarUrl: string;
  avatarSource: AvatarSource;
}

/** The size of the custom photo's thumbnail to show for `asked`: it, or 256 px for a photo from before there were sizes. */
const storedSize = (user: User, asked: ThumbSize): ThumbSize =>
  (user.profilePictureThumbSizes ?? [DEFAULT_THUMB_SIZE]).includes(asked) ? asked : DEFAULT_THUMB_SIZE;

/**
 * The user's pictures in the size `pictureSize` asks for, from the users row alone: no D1 read and
 * no R2 call. A thumbnail's key derives from its upload's id, and the row carries the custom photo's
 * and the import's ids (an import always has every size); an initials image's URL derives from the
 * names, the email and the id. The avatar: the custom photo, else the imported WorkOS picture, else
 * initials (also while an import is due, under way, or refused).
 */
export async function profilePicturesOf(
  user: User,
  config: Config,
  apiOrigin: string,
  size: ThumbSize,
): Promise<ProfilePictures> {
  const custom = user.profilePictureUploadId;
  if (custom) {
    const url = await presignThumbUrl(config, thumbKeyFor(custom, storedSize(user, size)));
    return { profilePictureUrl: url, avatarUrl: url, avatarSource: "custom" };
  }
  const profilePictureUrl = user.workosProfilePictureUrl;
  const imported = user.importedPictureUploadId;
  if (imported) {
    const avatarUrl = await presignThumbUrl(config, thumbKeyFor(imported, size));
    return { profilePictureUrl, avatarUrl, avatarSource: "identity_provider" };
  }
  const image = { initials: initialsOf(user), paletteIndex: paletteIndexOf(user.id), size };
  return {
    profilePictureUrl,
    avatarUrl: await initialsImageUrl(config, apiOrigin, image),
    avatarSource: "initials",
  };
}
