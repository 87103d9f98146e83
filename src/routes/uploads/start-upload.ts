import type { Database } from "../../db/client";
import type { Upload, User } from "../../db/schema";
import type { Config } from "../../lib/config";
import { originalKeyFor } from "../../lib/object-keys";
import { presignUrl } from "../../lib/presign";
import { createPendingUpload } from "../../pictures/pending-upload";
import { UPLOAD_URL_TTL_SECONDS } from "../../pictures/retention";
import type { CreateUploadBody } from "./uploads.schemas";

export interface StartedUpload {
  upload: Upload;
  uploadUrl: string;
  uploadMethod: "PUT";
  uploadHeaders: Record<string, string>;
  expiresAt: string;
}

/**
 * The headers the presigned PUT signs, so R2 itself enforces them: the declared type, exactly the
 * declared size (a body of another length fails the signature), and `If-None-Match: *`, so the
 * URL writes the object once and can never replace the bytes that `complete` checked.
 * @see https://developers.cloudflare.com/r2/api/s3/conditional-operations/
 */
function uploadHeadersFor(body: { contentType: string; size: number }): Record<string, string> {
  return {
    "Content-Type": body.contentType,
    "Content-Length": String(body.size),
    "If-None-Match": "*",
  };
}

/**
 * Create a `pending` upload owned by `caller` and a presigned PUT URL for its bytes. The URL is
 * made first: when presigning fails, nothing has been written. 429 when the caller already has
 * `MAX_PENDING_UPLOADS_PER_USER` uploads pending; 403 `quota_exceeded` when an attachment would take
 * the caller's attachments past `MAX_ATTACHMENT_BYTES_PER_USER`.
 */
export async function startUpload(
  db: Database,
  config: Config,
  caller: User,
  body: (typeof CreateUploadBody)["_output"],
  nowMs: number = Date.now(),
): Promise<StartedUpload> {
  const id = crypto.randomUUID();
  const signedAt = Math.floor(nowMs / 1000);
  const uploadHeaders = uploadHeadersFor(body);
  const uploadUrl = await presignUrl(config.r2, {
    method: "PUT",
    key: originalKeyFor(id),
    expiresInSeconds: UPLOAD_URL_TTL_SECONDS,
    signedAt,
    headers: uploadHeaders,
  });
  const upload = await createPendingUpload(db, caller, id, body, {
    nowMs,
    maxAttachmentBytes: config.maxAttachmentBytesPerUser,
  });
  return {
    upload,
    uploadUrl,
    uploadMethod: "PUT",
    uploadHeaders,
    expiresAt: new Date((signedAt + UPLOAD_URL_TTL_SECONDS) * 1000).toISOString(),
  };
}
