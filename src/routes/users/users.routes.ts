import { createRoute } from "@hono/zod-openapi";
import { authenticate, requireCaller } from "../../identity/auth-middleware";
import { jsonBody } from "../../lib/json-body";
import {
  authErrors,
  bearerSecurity,
  errorResponse,
  jsonBodyErrors,
  validationErrors,
} from "../../lib/openapi-schemas";
import { limitWrites } from "../../lib/rate-limit";
import {
  MembersPage,
  MembersQuery,
  UpdateProfilePictureBody,
  UserIdParams,
  UserProfile,
} from "./users.schemas";

const tags = ["Users"];
const profileResponse = {
  description: "Successful Response",
  content: { "application/json": { schema: UserProfile } },
};

export const getMe = createRoute({
  method: "get",
  path: "/api/v1/users/me",
  tags,
  security: bearerSecurity,
  summary: "Get the caller's profile",
  middleware: [requireCaller] as const,
  responses: { 200: profileResponse, ...authErrors },
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
  request: { params: UserIdParams },
  responses: {
    200: profileResponse,
    ...authErrors,
    404: errorResponse("No such user, or not visible to the caller", ["user_not_found"]),
    422: validationErrors,
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
    ...authErrors,
    422: validationErrors,
  },
});

const profilePictureDescription =
  "Sets (a UUID) or removes (null) the custom profile picture. Before writing, the upload is checked " +
  "in this order: it exists and is owned by the caller, also when an admin acts for someone else " +
  "(404 `upload_not_found`); its scope is `profile_picture` (422 `upload_wrong_scope`); its kind is " +
  "`image` (422 `upload_wrong_kind`); its state is `ready` (409 `upload_not_ready`). The check and " +
  "the write are one atomic step. Setting the photo already set, or removing when none is set, " +
  "succeeds and changes nothing.";

const profilePictureErrors = {
  ...authErrors,
  ...jsonBodyErrors,
  404: errorResponse("No such user or upload, or not visible to the caller", [
    "user_not_found",
    "upload_not_found",
  ]),
  409: errorResponse("The upload is not ready", ["upload_not_ready"]),
  422: {
    description:
      "Validation error, or an upload of the wrong scope or kind (code: `validation_error`, `upload_wrong_scope`, `upload_wrong_kind`)",
    content: validationErrors.content,
  },
};

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
  description: profilePictureDescription,
  middleware: [authenticate, limitWrites, jsonBody] as const,
  request: { body: profilePictureBody },
  responses: { 200: profileResponse, ...profilePictureErrors },
});

export const updateUserProfilePicture = createRoute({
  method: "patch",
  path: "/api/v1/shared/users/{user_id}/profile-picture",
  tags,
  security: bearerSecurity,
  summary: "Update User Profile Picture",
  description: `${profilePictureDescription} Acting on another user needs the token's role \`admin\` and that user being a teammate (an active member of the token's organization, as the caller is): anyone else is 404, a teammate without permission 403.`,
  middleware: [authenticate, limitWrites, jsonBody] as const,
  request: { params: UserIdParams, body: profilePictureBody },
  responses: { 200: profileResponse, ...profilePictureErrors },
});
