import { asc, count, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { uploadObjectsToDelete } from "../db/schema";
import { isOneOf } from "../lib/d1";
import { originalKeyFor, thumbKeysFor } from "../lib/object-keys";

/**
 * Deleting an upload's objects without ever losing track of them. An upload's row goes first, in a
 * D1 batch that also records its id (`recordGone`); R2 deletes its objects after
 * (`deleteObjectsOf`); the record is forgotten once they are gone (`forget`). A failed R2 delete, or
 * an invocation that dies in between, leaves the record, which the storage cleanup's next run takes
 * up again (`recordedUploads`). Objects only ever go after their row: a race can leave an object
 * for a while, never a row pointing at missing bytes.
 */

/** R2 deletes at most 1,000 keys a call. @see https://developers.cloudflare.com/r2/api/workers/workers-api-reference/#bucket-method-definitions */
export const R2_DELETE_MAX_KEYS = 1000;

/** Every key an upload may have in R2, derived from its id: the original and a thumbnail per size. */
export const objectKeysOf = (uploadId: string) => [originalKeyFor(uploadId), ...thumbKeysFor(uploadId)];

/** How many uploads' keys fit in one R2 delete. */
const UPLOADS_PER_R2_DELETE = Math.floor(R2_DELETE_MAX_KEYS / objectKeysOf("").length);

/**
 * In a batch, after the statement that deletes uploads `ids`: record those whose row is gone now
 * (each a probe of the uploads' primary key), so their objects are deleted even when this
 * invocation cannot do it. Safe to repeat: a retry records nothing twice.
 */
export const recordGone = (db: Database, ids: readonly string[], now: Date) =>
  db
    .insert(uploadObjectsToDelete)
    .select(
      sql`select value, ${now.getTime()} from json_each(${JSON.stringify(ids)})
        where not exists (select 1 from "uploads" where "uploads"."id" = value)`,
    )
    .onConflictDoNothing();

/** Forget the records of uploads whose objects R2 has deleted. */
export const forget = (db: Database, ids: readonly string[]) =>
  db.delete(uploadObjectsToDelete).where(isOneOf(uploadObjectsToDelete.uploadId, ids));

/** Up to `limit` recorded uploads, oldest record first: what earlier attempts left to delete. */
export const recordedUploads = (db: Database, limit: number) =>
  db
    .select({ uploadId: uploadObjectsToDelete.uploadId })
    .from(uploadObjectsToDelete)
    .orderBy(asc(uploadObjectsToDelete.recordedAt))
    .limit(limit);

/** How many uploads' objects are recorded to delete. */
export async function countRecordedUploads(db: Database): Promise<number> {
  const [row] = await db.select({ count: count() }).from(uploadObjectsToDelete);
  return row?.count ?? 0;
}

export interface ObjectDeletion {
  /** The uploads all of whose objects R2 deleted: their records can go. */
  deleted: string[];
  /** Keys R2 deleted (a key with no object counts too). */
  objects: number;
  /** Keys whose delete failed: their uploads stay recorded, for the next try. */
  objectsLeft: number;
}

/**
 * Delete the objects of uploads whose rows are gone, in R2 calls of at most `R2_DELETE_MAX_KEYS`
 * keys. A call that fails is logged, with the upload ids (UUIDs, nothing personal), not thrown:
 * those uploads stay recorded and the storage cleanup tries again.
 */
export async function deleteObjectsOf(
  bucket: R2Bucket,
  uploadIds: readonly string[],
): Promise<ObjectDeletion> {
  const result: ObjectDeletion = { deleted: [], objects: 0, objectsLeft: 0 };
  for (let i = 0; i < uploadIds.length; i += UPLOADS_PER_R2_DELETE) {
    const ids = uploadIds.slice(i, i + UPLOADS_PER_R2_DELETE);
    const keys = ids.flatMap(objectKeysOf);
    try {
      await bucket.delete(keys);
      result.deleted.push(...ids);
      result.objects += keys.length;
    } catch (error) {
      result.objectsLeft += keys.length;
      console.error(
        JSON.stringify({
          level: "error",
          msg: "objects not deleted; the storage cleanup's next run tries again",
          uploadIds: ids,
          error: error instanceof Error ? error.message : String(error),
        }),
      );
    }
  }
  return result;
}
