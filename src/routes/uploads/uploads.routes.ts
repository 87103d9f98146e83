import { createRoute } from "@hono/zod-openapi";
import { callerErrors, requireCaller } from "../../identity/auth-middleware";
import { errorResponses } from "../../lib/errors/openapi";
import { jsonBody, jsonBodyErrors } from "../../lib/json-body";
import { THUMB_SIZES } from "../../lib/object-keys";
import { bearerSecurity } from "../../lib/openapi-schemas";
import { limitWrites, writeLimitErrors } from "../../lib/rate-limit";
import { startAtPrimary } from "../../lib/request-context";
import { HOUR_MS, PENDING_MAX_AGE_MS, UPLOAD_URL_TTL_SECONDS } from "../../pictures/retention";
import { MAX_IMAGE_SIDE } from "../../pictures/settle-upload";
import { describeScopeRules, MAX_PENDING_UPLOADS_PER_USER } from "../../pictures/upload-rules";
import { CreateUploadBody, CreateUploadResponse, Upload, UploadIdParams } from "./uploads.schemas";

const tags = ["Uploads"];
const uploadResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: Upload } },
});

export const createUpload = createRoute({
  method: "post",
  path: "/api/v1/uploads",
  tags,
  security: bearerSecurity,
  summary: "Start an upload",
  description:
    "Creates a `pending` upload owned by the caller and answers with a presigned URL to `PUT` the bytes " +
    `to (valid ${UPLOAD_URL_TTL_SECONDS / 60} minutes), sending exactly \`uploadHeaders\`. The URL is ` +
    "write-once and exact-size: it takes exactly the declared number of bytes, once. Then call " +
    "`POST /api/v1/uploads/{upload_id}/complete`. What each scope accepts (the kind must match the " +
    `content type; anything else is 422 and nothing is created): ${describeScopeRules()} ` +
    `A caller may have at most ${MAX_PENDING_UPLOADS_PER_USER} uploads \`pending\` at a time: one more is ` +
    "`429 rate_limited`, nothing created, with `Retry-After` saying when the oldest will have expired " +
    `(pending uploads are deleted ${PENDING_MAX_AGE_MS / HOUR_MS} hours after they were started); ` +
    "completing one frees its place. A caller's attachments, `pending` and `ready`, may take at most " +
    "`MAX_ATTACHMENT_BYTES_PER_USER` bytes in all (1 GiB unless configured): an attachment past it is " +
    "`403 quota_exceeded`, nothing created, with the bytes used and the limit in `detail`.",
  middleware: [startAtPrimary, requireCaller, limitWrites, jsonBody] as const,
  request: {
    body: { required: true, content: { "application/json": { schema: CreateUploadBody } } },
  },
  responses: {
    201: {
      description: "Upload created; PUT the bytes to `uploadUrl`",
      content: { "application/json": { schema: CreateUploadResponse } },
    },
    // The pending cap is a `rate_limited` too (the description says when), and the attachment quota.
    ...errorResponses(callerErrors, writeLimitErrors, jsonBodyErrors, ["rate_limited", "quota_exceeded"]),
  },
});

export const completeUpload = createRoute({
  method: "post",
  path: "/api/v1/uploads/{upload_id}/complete",
  tags,
  security: bearerSecurity,
  summary: "Complete an upload",
  description:
    "Checks the uploaded bytes: the stored size equals the declared size, the leading bytes match the " +
    `declared type, and an image decodes with at most ${MAX_IMAGE_SIDE} px a side. An image then gets square ` +
    `WebP thumbnails of ${THUMB_SIZES.join(", ")} px (cover crop; never enlarged past the image's shorter ` +
    "side, so a smaller image gives smaller ones for the larger sizes), all stored before the upload " +
    "becomes `ready`. Bytes that fail a check make it `failed` with a `failureReason` (refused bytes are " +
    "deleted). Either way the answer is 200 with the upload. " +
    "Completing a `ready` upload again changes nothing; a `failed` upload stays failed. No body.",
  middleware: [startAtPrimary, requireCaller, limitWrites] as const,
  request: { params: UploadIdParams },
  responses: {
    200: uploadResponse("The upload, `ready` or `failed`"),
    ...errorResponses(callerErrors, writeLimitErrors, [
      "upload_not_found",
      "upload_not_ready",
      "validation_error",
    ]),
  },
});

export const getUpload = createRoute({
  method: "get",
  path: "/api/v1/uploads/{upload_id}",
  tags,
  security: bearerSecurity,
  summary: "Get an upload",
  description: "The caller's upload; `thumbUrl` is a presigned URL of the thumbnail once a ready image.",
  middleware: [requireCaller] as const,
  request: { params: UploadIdParams },
  responses: {
    200: uploadResponse("The upload"),
    ...errorResponses(callerErrors, ["upload_not_found", "validation_error"]),
  },
});
