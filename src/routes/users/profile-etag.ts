import type { UserInRole } from "../../identity/memberships";
import { decodeBase64urlText, encodeBase64url, encodeBase64urlText } from "../../lib/base64url";
import type { EntityTag, EntityTagCondition } from "../../lib/entity-tags";

/**
 * A profile's version: every key of a UserProfile is the users row's (whose `updated_at` moves
 * forward with each change of one, `nextUpdatedAt`) or the role shown (the token's for the caller,
 * the membership's for a teammate). The PATCH's `If-Match` compares exactly this, in its statement.
 */
export interface ProfileVersion {
  updatedAt: number;
  role: string;
}

export const versionOf = ({ user, role }: UserInRole): ProfileVersion => ({
  updatedAt: user.updatedAt.getTime(),
  role,
});

export const sameVersion = (a: ProfileVersion, b: ProfileVersion) =>
  a.updatedAt === b.updatedAt && a.role === b.role;

/**
 * The strong ETag of a profile response: `"<updated_at>.<role>.<digest>"`, the role in base64url
 * and the digest the first 96 bits of the body's SHA-256. The version part is what `If-Match`
 * compares; the digest makes the tag change with every byte of the body, so `If-None-Match` is
 * exact: a new URL signing window, another `pictureSize` or new R2 credentials give a new tag,
 * and a client never keeps a URL about to expire because of a `304`.
 */
export async function profileETag(version: ProfileVersion, body: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
  const role = encodeBase64urlText(version.role);
  return `"${version.updatedAt}.${role}.${encodeBase64url(new Uint8Array(digest, 0, 12))}"`;
}

const OUR_TAG = /^(\d{1,15})\.([A-Za-z0-9_-]*)\.[A-Za-z0-9_-]{16}$/;

/**
 * The versions an `If-Match`'s tags name. `If-Match` compares strongly (RFC 9110 §13.1.1), so a
 * weak tag names none, and neither does a tag this service did not make. Comparing the version
 * alone is that strong comparison against the current profile as it would be answered in the
 * tag's own signing window and size: within one window and size the body is a function of the
 * version, and a signing window is when a URL was signed, not a change of the profile.
 */
export function versionsNamedBy(tags: readonly EntityTag[]): ProfileVersion[] {
  return tags.flatMap(({ weak, opaque }) => {
    const ours = weak ? null : OUR_TAG.exec(opaque);
    const role = ours ? roleIn(ours[2] as string) : undefined;
    return ours && role !== undefined ? [{ updatedAt: Number(ours[1]), role }] : [];
  });
}

/**
 * Whether an `If-None-Match` holds for the current `etag`: false (so `304`) when one of its tags
 * is the same, compared weakly (RFC 9110 §13.1.2: a `W/` prefix a proxy added does not matter),
 * or for `*`, as a profile that is answered exists.
 */
export function noneMatch(condition: EntityTagCondition, etag: string): boolean {
  if (condition === "*") return false;
  return !condition.some(({ opaque }) => `"${opaque}"` === etag);
}

/** The role a tag carries; undefined when it is not base64url of UTF-8. */
function roleIn(encoded: string): string | undefined {
  try {
    return decodeBase64urlText(encoded);
  } catch {
    return undefined;
  }
}
