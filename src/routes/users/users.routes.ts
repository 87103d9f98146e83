import { createRoute } from "@hono/zod-openapi";
import { authenticate, callerErrors, requireCaller } from "../../identity/auth-middleware";
import { errorResponses } from "../../lib/errors/openapi";
import { jsonBody, jsonBodyErrors } from "../../lib/json-body";
import { bearerSecurity } from "../../lib/openapi-schemas";
import { limitWrites, writeLimitErrors } from "../../lib/rate-limit";
import { startAtPrimary } from "../../lib/request-context";
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
