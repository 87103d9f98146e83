import { and, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { type Upload, uploads } from "../db/schema";
import { databaseErrorText } from "../lib/d1";
import { ApiError, retryAfter } from "../lib/errors/api-error";
import { THUMB_SIZES, type ThumbSize, thumbKeyFor, thumbKeysFor } from "../lib/object-keys";
import { matchesDeclaredType, SNIFF_LENGTH, sniffType } from "./magic-bytes";
import { recordGone } from "./objects-to-delete";
import { makeThumbnails, presignedImageCacheControl, storeThumbnails, type Thumbnail } from "./thumbnails";

/** Largest width or height accepted: beyond this, decoding is a memory bomb, not a photo. */
export const MAX_IMAGE_SIDE = 12_000;

export interface PictureStorage {
  db: Database;
  bucket: R2Bucket;
  images: ImagesBinding;
  /** How long a thumbnail's presigned URL is valid (`THUMB_URL_TTL_SECONDS`): its `Cache-Control`. */
  thumbUrlTtlSeconds: number;
}

/**
 * Images binding error codes that say "try again later" rather than "these bytes are bad": the
 * plan's transformation limit and origin/service availability. Every other coded error (9412 not
 * an image, 9413 too large, 9520 unsupported, 9523 could not be resized, ...) is about the input.
 * @see https://developers.cloudflare.com/images/reference/troubleshooting/
 */
const RETRYABLE_IMAGES_ERRORS = new Set([9422, 9504, 9505, 9510]);

class BadBytes extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/**
 * Check the bytes of a `pending` upload and settle it: `ready` (an image with its thumbnails in
 * every size, `THUMB_SIZES`), or `failed` with a reason. A `ready` or `failed` upload is returned
 * as it is (completing again is harmless; a failed upload is never revived). No object yet: 409,
 * nothing written.
 *
 * Every read is bounded: `head` (or the caller's `put`) for the size, one small ranged `get` for the magic bytes, and the
 * Images binding reads the object (at most the declared size) once per call. All reads pin the ETag seen by `head`: upload URLs write once,
 * and should anything else replace the object mid-check, the answer is 409, never a verdict on a
 * mix of two objects. The state change is a conditional UPDATE (`... AND state = 'pending'`): two
 * concurrent completes both do the work, the first to settle wins, and the other answers with the
 * state the winner wrote (and drops its thumbnails unless the winner made the upload ready).
 */
export async function settleUpload(deps: PictureStorage, upload: Upload, stored?: R2Object): Promise<Upload> {
  if (upload.state !== "pending") return upload;
  // A caller that has just written the object passes what `put` returned: the same as a `head`.
  const object = stored ?? (await deps.bucket.head(upload.objectKey));
  if (!object) {
    throw new ApiError(
      "upload_not_ready",
      "No bytes have been uploaded yet; PUT them to the upload URL first.",
    );
  }
  try {
    return await checkAndSettle(deps, upload, object);
  } catch (error) {
    await recordIfGone(deps.db, upload.id);
    throw error;
  }
}

/**
 * After a settling that failed midway (its state change threw, or an R2 call did), thumbnails may
 * be stored for a row the cron deleted meanwhile, its own delete of the objects done before they
 * landed: record the upload's objects for the storage cleanup to delete, if its row is gone (a row
 * still there takes its objects with it when it goes). Best effort: D1 may be what failed, and the
 * error the caller answers with is the one that got here.
 */
async function recordIfGone(db: Database, uploadId: string): Promise<void> {
  try {
    await recordGone(db, [uploadId], new Date());
  } catch (error) {
    console.error(
      JSON.stringify({
        level: "error",
        msg: "complete failed, and its thumbnails are not recorded for the storage cleanup",
        uploadId,
        error: databaseErrorText(error),
      }),
    );
  }
}

/** `settleUpload` once the object is known: check it, store the thumbnails, change the state. */
async function checkAndSettle(deps: PictureStorage, upload: Upload, object: R2Object): Promise<Upload> {
  let settled: Upload | undefined;
  try {
    const thumbnails = await inspect(deps, upload, object);
    // Every size is written before the upload turns ready, so a ready image has all of them.
    if (thumbnails) {
      await storeThumbnails(
        deps.bucket,
        upload.id,
        thumbnails,
        presignedImageCacheControl(deps.thumbUrlTtlSeconds),
      );
    }
    settled = await settle(
      deps.db,
      upload,
      thumbnails
        ? { state: "ready", thumbKey: thumbKeyFor(upload.id), thumbSizes: [...THUMB_SIZES] }
        : { state: "ready", thumbKey: null, thumbSizes: null },
    );
    // Lost a race: the cron deleted the row meanwhile, or another complete settled it `failed`
    // first. Then no row will ever point at these thumbnails. A `ready` winner wrote the same keys,
    // so then they stay. (When the state change itself fails, its outcome is unknown and the
    // thumbnails stay too: the cleanup deletes them with the row, by the keys derived from the id,
    // or, when the row is gone already, by the record `settleUpload` leaves.)
    if (thumbnails && settled?.state !== "ready") await deps.bucket.delete(thumbKeysFor(upload.id));
  } catch (error) {
    if (!(error instanceof BadBytes)) throw error;
    settled = await settle(deps.db, upload, { state: "failed", failureReason: error.reason });
    // Refused bytes are not kept (an object larger than declared is the abuse case).
    if (settled?.state === "failed") await deps.bucket.delete(upload.objectKey);
  }
  if (!settled) throw new ApiError("upload_not_found");
  return settled;
}

/** Throws `BadBytes` for bytes that are not what was declared; returns the thumbnails of an image. */
async function inspect(
  deps: PictureStorage,
  upload: Upload,
  object: R2Object,
): Promise<Thumbnail[] | undefined> {
  if (object.size !== upload.size) {
    throw new BadBytes(`The stored object is ${object.size} bytes, but ${upload.size} were declared.`);
  }
  const sniffed = await readObject(deps.bucket, object, { offset: 0, length: SNIFF_LENGTH });
  const head = new Uint8Array(await sniffed.arrayBuffer());
  if (!matchesDeclaredType(upload.contentType, head)) {
    const seen = sniffType(head);
    throw new BadBytes(
      `The bytes are not ${upload.contentType}${seen && seen !== upload.contentType ? ` (they look like ${seen})` : ""}.`,
    );
  }
  if (upload.kind !== "image") return undefined;

  const forInfo = await readObject(deps.bucket, object);
  const info = await imagesCall(upload, () => deps.images.info(forInfo.body));
  if (!("width" in info)) throw new BadBytes("The image has no pixel dimensions.");
  if (info.format !== upload.contentType) {
    throw new BadBytes(`The image decodes as ${info.format}, but ${upload.contentType} was declared.`);
  }
  if (info.width > MAX_IMAGE_SIDE || info.height > MAX_IMAGE_SIDE) {
    throw new BadBytes(
      `The image is ${info.width}x${info.height} px; at most ${MAX_IMAGE_SIDE} px a side is accepted.`,
    );
  }
  const read = async () => (await readObject(deps.bucket, object)).body;
  return imagesCall(upload, () => makeThumbnails(deps.images, read, info, THUMB_SIZES));
}

/** A read of exactly the object `head` saw; a replaced or deleted object means "not ready yet". */
async function readObject(bucket: R2Bucket, object: R2Object, range?: R2Range): Promise<R2ObjectBody> {
  const found = await bucket.get(object.key, {
    onlyIf: { etagMatches: object.etag },
    ...(range ? { range } : {}),
  });
  if (!found || !("body" in found)) {
    throw new ApiError(
      "upload_not_ready",
      "The object changed while it was being checked; complete the upload again.",
    );
  }
  return found;
}

/** Run an Images binding call; an error about the input means bad bytes, others are retryable. */
async function imagesCall<T>(upload: Upload, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof ApiError) throw error;
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code !== "number") throw error;
    console.warn(
      JSON.stringify({ level: "warn", msg: "Images binding refused an upload", uploadId: upload.id, code }),
    );
    if (RETRYABLE_IMAGES_ERRORS.has(code)) {
      throw new ApiError("unavailable", "The image service is unavailable; try again.", retryAfter(5));
    }
    throw new BadBytes("The image could not be decoded.");
  }
}

/**
 * Move a pending upload to its final state; if another complete got there first, its result
 * stands. Undefined when the row is gone (the cron deleted it meanwhile).
 */
async function settle(
  db: Database,
  upload: Upload,
  changes:
    | { state: "ready"; thumbKey: string | null; thumbSizes: ThumbSize[] | null }
    | { state: "failed"; failureReason: string },
): Promise<Upload | undefined> {
  const now = new Date();
  // A ready profile picture is shown by no one yet: garbage in 7 days unless attached meanwhile
  // (the triggers on `users` clear the date when it is). Attachments are kept for good.
  const unreferencedSince = changes.state === "ready" && upload.scope === "profile_picture" ? now : null;
  const [updated] = await db
    .update(uploads)
    .set({ ...changes, updatedAt: now, unreferencedSince })
    .where(and(eq(uploads.id, upload.id), eq(uploads.state, "pending")))
    .returning();
  return updated ?? (await db.query.uploads.findFirst({ where: eq(uploads.id, upload.id) }));
}
