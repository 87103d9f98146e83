import type { Database } from "../../db/client";
import { type Upload, type User, uploads } from "../../db/schema";
import type { Config } from "../../lib/config";
import { originalKeyFor } from "../../lib/object-keys";
import { presignUrl } from "../../lib/presign";
import type { CreateUploadBody } from "./uploads.schemas";

/** How long the presigned PUT URL is valid: long enough for a slow phone upload, no more. */
export const UPLOAD_URL_TTL_SECONDS = 600;

export interface StartedUpload {
  upload: Upload;
  uploadUrl: string;
  uploadMethod: "PUT";
  uploadHeaders: Record<string, string>;
  expiresAt: string;
}

/**
 * Create a `pending` upload owned by `caller` and a presigned PUT URL for its bytes. The URL is
 * made first: when presigning fails, nothing has been written.
 *
 * Content-Type is deliberately not signed. R2 presigned URLs here sign `host` only (the contract:
 * "no extra signed headers"; aws4fetch also never signs Content-Type), so the client may send any
 * Content-Type without breaking the signature. That costs nothing: `complete` proves the type from
 * the bytes themselves (magic bytes, then the Images binding), never from the stored header, and
 * `uploadHeaders` still tells the client to send the declared type so the object is labelled right.
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
  const uploadUrl = await presignUrl(config.r2, {
    method: "PUT",
    key: originalKeyFor(id),
    expiresInSeconds: UPLOAD_URL_TTL_SECONDS,
    signedAt,
  });
  const now = new Date(nowMs);
  const [upload] = await db
    .insert(uploads)
    .values({
      id,
      ownerId: caller.id,
      kind: body.kind,
      scope: body.scope,
      state: "pending",
      contentType: body.contentType,
      size: body.size,
      filename: body.filename ?? null,
      objectKey: originalKeyFor(id),
      thumbKey: null,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  return {
    upload: upload as Upload,
    uploadUrl,
    uploadMethod: "PUT",
    uploadHeaders: { "Content-Type": body.contentType },
    expiresAt: new Date((signedAt + UPLOAD_URL_TTL_SECONDS) * 1000).toISOString(),
  };
}
