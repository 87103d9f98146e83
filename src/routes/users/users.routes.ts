import { createRoute } from "@hono/zod-openapi";
import { authenticate, callerErrors, requireCaller } from "../../identity/auth-middleware";
import { errorResponses } from "../../lib/errors/openapi";
import { jsonBody, jsonBodyErrors } from "../../lib/json-body";
import { THUMB_SIZES } from "../../lib/object-keys";
import { bearerSecurity } from "../../lib/openapi-schemas";
import { limitWrites, writeLimitErrors } from "../../lib/rate-limit";
import { startAtPrimary } from "../../lib/request-context";
import { MAX_IMAGE_SIDE } from "../../pictures/settle-upload";
import { IMAGE_BODY_TYPES, imageBody, imageBodyErrors, MAX_IMAGE_BODY_BYTES } from "./image-body";
import { describeProfilePictureRules, profilePictureRuleErrors } from "./profile-picture-rules";
import {
  MembersPage,
  MembersQuery,
  PictureSizeQuery,
  ProfileReadHeaders,
  ProfileWriteHeaders,
  UpdateProfilePictureBody,
  UserIdParams,
  UserProfile,
} from "./users.schemas";

const tags = ["Users"];
const etagHeader = {
  ETag: {
    description:
      "A strong tag of this profile as answered: send it back as `If-None-Match` to read it again, or as `If-Match` to change it only while it is unchanged.",
    schema: { type: "string" as const },
  },
};
const profileResponse = {
  description: "Successful Response",
  headers: etagHeader,
  content: { "application/json": { schema: UserProfile } },
};
const notModified = {
  description: "Not Modified: `If-None-Match` names the current `ETag`; no body",
  headers: etagHeader,
};

export const getMe = createRoute({
  method: "get",
  path: "/api/v1/users/me",
  tags,
  security: bearerSecurity,
  summary: "Get the caller's profile",
  middleware: [requireCaller] as const,
  request: { query: PictureSizeQuery, headers: ProfileReadHeaders },
  responses: {
    200: profileResponse,
    304: notModified,
    ...errorResponses(callerErrors, ["validation_error"]),
  },
});

export const getSharedUser = createRoute({
  method: "get",
  path: "/api/v1/shared/users/{user_id}",
  tags,
  security: bearerSecurity,
  summary: "Get a user's profile",
  description:
    "The caller themself, or a teammate: a user with an active membership of the caller's token organization (`org_id`), of which the caller is an active member too. Anyone else is 404, the same as no one.",
  middleware: [requireCaller] as const,
  request: { params: UserIdParams, query: PictureSizeQuery, headers: ProfileReadHeaders },
  responses: {
    200: profileResponse,
    304: notModified,
    ...errorResponses(callerErrors, ["user_not_found", "validation_error"]),
  },
});

export const listSharedUsers = createRoute({
  method: "get",
  path: "/api/v1/shared/users",
  tags,
  security: bearerSecurity,
  summary: "List the members of the caller's organization",
  description:
    "The active users with an active membership of the caller's token organization, the caller included, ordered by last name, then first name (case-insensitively), then id. Keyset paging: pass `nextCursor` as `cursor` for the next page; paging from the first page to the last returns every member exactly once, also while members are added or removed. A token without `org_id`, or a caller no longer an active member of it, lists the caller alone.",
  middleware: [authenticate] as const,
  request: { query: MembersQuery },
  responses: {
    200: { description: "One page of members", content: { "application/json": { schema: MembersPage } } },
    // Authenticated only: the page resolves the caller itself when it has to.
    ...errorResponses(callerErrors, ["validation_error"]),
  },
});

/** The PATCH on `path` in words: what it does, its rules in order (from the rules themselves), and what holds. */
const profilePictureDescription = (path: "caller" | "user") =>
  "Sets (a UUID) or removes (null) the custom profile picture. " +
  `${describeProfilePictureRules(path)} ` +
  "The checks and the write are one atomic step. Setting the photo already set, or removing when none " +
  "is set, succeeds and changes nothing. The answer's `ETag` is the profile's new one.";

// A miss resolves the caller, so the caller's errors are the PATCH's too.
const profilePictureErrors = (path: "caller" | "user") =>
  errorResponses(callerErrors, writeLimitErrors, jsonBodyErrors, profilePictureRuleErrors(path));

const profilePictureBody = {
  required: true,
  content: { "application/json": { schema: UpdateProfilePictureBody } },
};

export const updateMyProfilePicture = createRoute({
  method: "patch",
  path: "/api/v1/users/me/profile-picture",
  tags,
  security: bearerSecurity,
  summary: "Update My Profile Picture",
  description: profilePictureDescription("caller"),
  middleware: [startAtPrimary, authenticate, limitWrites, jsonBody] as const,
  request: { query: PictureSizeQuery, headers: ProfileWriteHeaders, body: profilePictureBody },
  responses: { 200: profileResponse, ...profilePictureErrors("caller") },
});

export const updateUserProfilePicture = createRoute({
  method: "patch",
  path: "/api/v1/shared/users/{user_id}/profile-picture",
  tags,
  security: bearerSecurity,
  summary: "Update User Profile Picture",
  description: profilePictureDescription("user"),
  middleware: [startAtPrimary, authenticate, limitWrites, jsonBody] as const,
  request: {
    params: UserIdParams,
    query: PictureSizeQuery,
    headers: ProfileWriteHeaders,
    body: profilePictureBody,
  },
  responses: { 200: profileResponse, ...profilePictureErrors("user") },
});

/** The one-call PUT on `path` in words: what it takes, what it checks when, and what holds. */
const oneCallDescription = (path: "caller" | "user") =>
  "Sets the custom profile picture from the image sent as the body, in one call: what creating an " +
  "upload, sending its bytes, completing it and the PATCH do, all or nothing. The body is the image " +
  `itself: \`Content-Type\` ${IMAGE_BODY_TYPES.map((type) => `\`${type}\``).join(", ")} (anything else ` +
  `415), at most ${MAX_IMAGE_BODY_BYTES} bytes (413, also when sent chunked, counted as it arrives). ` +
  `${describeProfilePictureRules(path, false)} All this before a byte of the body is read or stored. ` +
  "The bytes then go through the same checks as `POST /api/v1/uploads/{upload_id}/complete`: the type " +
  `their magic bytes show is the declared one, they decode, at most ${MAX_IMAGE_SIDE} px a side; and get ` +
  `the same square WebP thumbnails of ${THUMB_SIZES.join(", ")} px. Bytes that fail are ` +
  "`422 upload_invalid` with the reason in `detail`. The upload they make is the caller's (scope " +
  "`profile_picture`, kind `image`) and `ready` before the PATCH's one conditional statement attaches it, " +
  "judging every rule again as it writes (a profile changed meanwhile is `412`). Any failure leaves the " +
  "previous photo as it was and keeps nothing of the request: no upload, no object. It counts as a write " +
  "for the rate limit, and as a pending upload while it runs. The answer's `ETag` is the profile's new one.";

const oneCallErrors = (path: "caller" | "user") =>
  errorResponses(callerErrors, writeLimitErrors, imageBodyErrors, profilePictureRuleErrors(path, false), [
    "validation_error",
  ]);

const imageBodyDeclaration = {
  required: true,
  description: "The image's bytes, as they are (not base64, not a form).",
  content: Object.fromEntries(
    IMAGE_BODY_TYPES.map((type) => [type, { schema: { type: "string" as const, format: "binary" } }]),
  ),
};

export const putMyProfilePicture = createRoute({
  method: "put",
  path: "/api/v1/users/me/profile-picture",
  tags,
  security: bearerSecurity,
  summary: "Set My Profile Picture From an Image",
  description: oneCallDescription("caller"),
  middleware: [startAtPrimary, authenticate, limitWrites, imageBody] as const,
  request: { query: PictureSizeQuery, headers: ProfileWriteHeaders, body: imageBodyDeclaration },
  responses: { 200: profileResponse, ...oneCallErrors("caller") },
});

export const putUserProfilePicture = createRoute({
  method: "put",
  path: "/api/v1/shared/users/{user_id}/profile-picture",
  tags,
  security: bearerSecurity,
  summary: "Set User Profile Picture From an Image",
  description: oneCallDescription("user"),
  middleware: [startAtPrimary, authenticate, limitWrites, imageBody] as const,
  request: {
    params: UserIdParams,
    query: PictureSizeQuery,
    headers: ProfileWriteHeaders,
    body: imageBodyDeclaration,
  },
  responses: { 200: profileResponse, ...oneCallErrors("user") },
});
