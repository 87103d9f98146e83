import { z } from "@hono/zod-openapi";
import { MAX_ENTITY_TAGS, parseEntityTags } from "../../lib/entity-tags";
import { DEFAULT_THUMB_SIZE, THUMB_SIZES, type ThumbSize } from "../../lib/object-keys";
import { DateTime, Uuid } from "../../lib/openapi-schemas";
import { AVATAR_SOURCES } from "../../pictures/avatar";

const MEMBERS_PAGE_DEFAULT = 50;
const MEMBERS_PAGE_MAX = 100;
const MEMBERS_QUERY_MAX = 100;

export const UserProfile = z
  .object({
    id: z.uuid(),
    email: z.string(),
    emailVerified: z.boolean(),
    firstName: z.string(),
    lastName: z.string(),
    profilePictureUrl: z.string().nullable().openapi({
      description:
        "Server-resolved. With a custom photo, a presigned URL of that upload's square WebP thumbnail in the size `pictureSize` asks for (256 px unless asked; a photo set before there were sizes has only its 256 px one, which every size then gives); otherwise the WorkOS-provided URL.",
    }),
    role: z.string().openapi({
      description:
        "The user's role in the organization the request is about: on /users/me (and for the caller themself) the access token's `role` (`member` when it has none); for a teammate, their role in the caller's token organization.",
    }),
    state: z.string(),
    lastLogin: DateTime.nullable(),
    createdAt: DateTime,
    hasCustomProfilePicture: z.boolean().default(false).openapi({
      description:
        'Lets the front end show a "Remove photo" affordance only when there is a custom photo to remove.',
    }),
    avatarUrl: z.string().openapi({
      description:
        "The picture to draw for the user, never null, absolute, in the size `pictureSize` asks for (see `avatarSource`). It stays the same URL while the picture and the URL signing window stay the same. Images are served with a `Cache-Control` that lets a browser keep them for as long as the URL is handed out.",
      example:
        "https://api.example.com/avatars/initials/WyJ2MSIsMywyNTYsIkFMIl0.3kR1N1s8Xx3kM8iQm8ZkZb5m9v4o5w9ZlQf8a2S7h0E.png",
    }),
    avatarSource: z.enum(AVATAR_SOURCES).openapi({
      description:
        "Where `avatarUrl` comes from: `custom`, the custom photo (the same thumbnail `profilePictureUrl` presigns); `identity_provider`, the picture WorkOS gave, imported into the service's storage (checked like an upload, four sizes, presigned like a thumbnail), so clients never hot-link the identity provider; `initials`, an image the service generates: the initials of the first and last name (else of the email) on a background colour derived from the user's id, a PNG of exactly `pictureSize` px square, public and the same for everyone with the same initials and colour. Until an import is ready, or when it failed, the avatar is `initials`.",
    }),
  })
  .openapi("UserProfile", { description: "User profile for /users/me endpoint." });

export const UpdateProfilePictureBody = z
  .strictObject({
    uploadId: Uuid.nullable().openapi({
      description:
        "null = remove the custom photo (revert to the WorkOS-provided URL). A UUID = set or replace the custom photo with the given upload.",
    }),
  })
  .openapi("UpdateProfilePictureRequest", {
    description:
      "Request body for PATCH /api/v1/users/me/profile-picture. uploadId is REQUIRED in the body. The endpoint validates ownership, scope, kind, and ready-state before writing.",
  });

export const UserIdParams = z.object({
  user_id: Uuid.openapi({ param: { name: "user_id", in: "path" } }),
});

const sizesInWords = `${THUMB_SIZES.slice(0, -1).join(", ")} or ${THUMB_SIZES.at(-1)}`;

/** Which thumbnail `profilePictureUrl` presigns: every route that answers UserProfiles takes it. */
export const PictureSizeQuery = z.object({
  pictureSize: z
    .enum(THUMB_SIZES.map(String) as [`${ThumbSize}`, ...`${ThumbSize}`[]], `Input should be ${sizesInWords}`)
    .default(`${DEFAULT_THUMB_SIZE}`)
    .transform((value) => Number(value) as ThumbSize)
    .openapi({
      param: { name: "pictureSize", in: "query" },
      description: `The size in px a side of the custom photo's thumbnail that \`profilePictureUrl\` presigns: ${sizesInWords} (default ${DEFAULT_THUMB_SIZE}). A list of small avatars asks for 64; a high-density screen twice the size it draws. Never larger than the photo itself.`,
      example: "64",
    }),
});

/** An `If-Match` or `If-None-Match`: `*`, or a list of entity tags (at most `MAX_ENTITY_TAGS`). */
const entityTagsHeader = (name: "if-match" | "if-none-match", description: string) =>
  z
    .string()
    .transform((value, ctx) => {
      const parsed = parseEntityTags(value);
      if (parsed === undefined) {
        ctx.addIssue({
          code: "custom",
          message: `Input should be * or at most ${MAX_ENTITY_TAGS} entity tags, each in double quotes as an ETag was given`,
        });
        return z.NEVER;
      }
      return parsed;
    })
    .optional()
    .openapi({
      param: { name, in: "header" },
      description,
      example: '"1764262715123.bWVtYmVy.Jq0tW3m9cE1xZb7Y"',
    });

/** The conditional GET of a profile. */
export const ProfileReadHeaders = z.object({
  "if-none-match": entityTagsHeader(
    "if-none-match",
    "The `ETag` of the profile as you have it: `304` with no body while it is the current one (the same profile, URL signing window and `pictureSize`). A malformed value is `422`.",
  ),
});

/** The conditional PATCH of a profile's picture. */
export const ProfileWriteHeaders = z.object({
  "if-match": entityTagsHeader(
    "if-match",
    "The `ETag` of the profile the change is based on: `412 precondition_failed`, nothing written, when the profile has changed since (its photo, or any other key; a new URL signing window or another `pictureSize` is no change). `*` asks for nothing. A weak tag never matches; a malformed value is `422`.",
  ),
});

export const MembersQuery = PictureSizeQuery.extend({
  q: z
    .string()
    .min(1, "String should have at least 1 character")
    .max(MEMBERS_QUERY_MAX, `String should have at most ${MEMBERS_QUERY_MAX} characters`)
    .optional()
    .openapi({
      param: { name: "q", in: "query" },
      description:
        'Keeps the members whose first name, last name, "first last" or email starts with this, case-insensitively.',
      example: "ada",
    }),
  limit: z.coerce
    .number("Input should be a valid integer")
    .int("Input should be a valid integer")
    .min(1, "Input should be greater than or equal to 1")
    .max(MEMBERS_PAGE_MAX, `Input should be less than or equal to ${MEMBERS_PAGE_MAX}`)
    .default(MEMBERS_PAGE_DEFAULT)
    .openapi({ param: { name: "limit", in: "query" }, example: MEMBERS_PAGE_DEFAULT }),
  cursor: z
    .string()
    .min(1, "Invalid cursor")
    .max(16_384, "Invalid cursor")
    .optional()
    .openapi({
      param: { name: "cursor", in: "query" },
      description: "The `nextCursor` of the previous page, as it was given; opaque.",
    }),
});

export const MembersPage = z
  .object({
    items: z.array(UserProfile),
    nextCursor: z
      .string()
      .nullable()
      .openapi({ description: "Pass as `cursor` for the next page; null on the last page." }),
  })
  .openapi("MembersPage");
