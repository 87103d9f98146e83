import { and, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { type Upload, type UploadOrigin, type User, uploads } from "../db/schema";
import { databaseErrorText } from "../lib/d1";
import { ApiError } from "../lib/errors/api-error";
import { deleteObjectsOf, forget, recordGone } from "./objects-to-delete";
import { createPendingUpload, type DeclaredUpload } from "./pending-upload";
import { unreferenced } from "./references";
import { type PictureStorage, settleUpload } from "./settle-upload";

/** An image received whole (a request's body): exactly `size` bytes of `contentType`, not yet stored. */
export interface ReceivedImage {
  contentType: string;
  size: number;
  /**
   * A stream that yields exactly `size` bytes or fails (a request's body: streamed as it arrives, or,
   * sent without a length, read ahead and let go of chunk by chunk as R2 stores it), or the bytes
   * themselves (an imported picture, fetched whole).
   */
  bytes: ReadableStream<Uint8Array> | Uint8Array;
}

/**
 * A profile-picture upload of `owner`'s made from an image received whole (the one-call PUT's
 * body, or an identity provider's picture being imported), `ready` when this returns:
 *
 * 1. its row, `pending`, before a byte is stored, so whatever a crash leaves behind the storage
 *    cleanup finds by the row (the objects' keys derive from its id); the pending cap applies to a
 *    client's upload, as to every upload a client starts;
 * 2. the bytes, into R2 through the binding, under the row's key;
 * 3. `settleUpload`, the very code `POST /uploads/{id}/complete` runs: the same checks, the same
 *    thumbnails, `ready` only once every size is stored.
 *
 * Bytes that fail a check: 422 `upload_invalid` with the reason `complete` gives. Whatever fails,
 * the upload is discarded (`discardUpload`) before the error goes on.
 */
export async function storeImage(
  deps: PictureStorage,
  owner: User,
  image: ReceivedImage,
  requestId: string | null,
  origin: UploadOrigin = "upload",
): Promise<Upload> {
  const declared: DeclaredUpload = {
    kind: "image",
    scope: "profile_picture",
    contentType: image.contentType,
    size: image.size,
  };
  const upload = await createPendingUpload(deps.db, owner, crypto.randomUUID(), declared, { origin });
  try {
    const stored = await deps.bucket.put(upload.objectKey, image.bytes, {
      httpMetadata: { contentType: image.contentType },
    });
    const completed = await settleUpload(deps, upload, stored ?? undefined);
    if (completed.state !== "ready") {
      throw new ApiError("upload_invalid", completed.failureReason ?? "The image was refused.");
    }
    return completed;
  } catch (error) {
    await discardUpload(deps, upload.id, requestId);
    throw error;
  }
}

/**
 * Delete an upload no user has as their photo, with its objects. The row goes first, in one batch
 * at the primary (a batch that writes is served there) with the record of its objects
 * (`recordGone`) and a read of whether it is gone: a read of "is it attached?" on its own could come
 * from a replica without the attach a lost reply wrote, and deleting by it would leave a live profile
 * pointing at objects that are gone. The delete says "no user shows it" itself, so an upload some
 * user has as their photo (an attach whose reply was lost may have written it after all) stays, with
 * its objects. Only a row that is gone has its objects deleted, and the record forgotten after; a
 * failure on the way leaves the row (for the storage cleanup's usual categories) or the record (for
 * its retries). A failure is logged, not thrown: the error that made the request discard it is the
 * answer.
 */
export async function discardUpload(
  deps: { db: Database; bucket: R2Bucket },
  uploadId: string,
  requestId: string | null,
): Promise<void> {
  const { db, bucket } = deps;
  try {
    const [, , left] = await db.batch([
      db.delete(uploads).where(and(eq(uploads.id, uploadId), unreferenced(db))),
      recordGone(db, [uploadId], new Date()),
      db.select({ id: uploads.id }).from(uploads).where(eq(uploads.id, uploadId)),
    ]);
    if (left.length > 0) return;
    const removed = await deleteObjectsOf(bucket, [uploadId]);
    if (removed.deleted.length > 0) await forget(db, removed.deleted);
  } catch (error) {
    // D1's or R2's own words, never a statement's bound values.
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
    console.error(
      JSON.stringify({
        level: "error",
        msg: "upload not discarded; the storage cleanup will delete it",
        requestId,
        uploadId,
        error: databaseErrorText(cause),
      }),
    );
  }
}
