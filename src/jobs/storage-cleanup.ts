import { and, asc, eq, inArray, lt, notExists, type SQL, sql } from "drizzle-orm";
import { createDb, type Database } from "../db/client";
import { type UploadState, uploads, users } from "../db/schema";
import { D1Tracker, trackD1 } from "../lib/d1";

/** Rows deleted per category per run: hourly runs clear 2,400 a day each, and one run stays short. */
export const CLEANUP_BATCH_SIZE = 100;

const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
/** A pending upload's PUT URL is long expired by then: the client gave up. */
export const PENDING_MAX_AGE_MS = DAY_MS;
/** Long enough for a client to read why an upload failed, or to attach a photo it uploaded. */
export const FAILED_MAX_AGE_MS = 7 * DAY_MS;
export const UNREFERENCED_MAX_AGE_MS = 7 * DAY_MS;

/** How often the cron runs the cleanup (`[triggers]` in wrangler.toml). */
const CLEANUP_INTERVAL_MS = HOUR_MS;

/** When a pending upload started at `createdAt` will have expired and been deleted, at the latest. */
export const pendingUploadGoneBy = (createdAt: Date) =>
  new Date(createdAt.getTime() + PENDING_MAX_AGE_MS + CLEANUP_INTERVAL_MS);

/** R2 deletes at most 1,000 keys a call. @see https://developers.cloudflare.com/r2/api/workers/workers-api-reference/#bucket-method-definitions */
const R2_DELETE_MAX_KEYS = 1000;

export interface CleanupCounts {
  /** Upload rows deleted, by why they were garbage. */
  pending: number;
  failed: number;
  unreferencedProfilePictures: number;
  /** R2 keys deleted (originals and thumbnails; a key with no object counts too). */
  objects: number;
  /** R2 keys whose delete failed after their row was gone; logged by key, to remove by hand. */
  objectsLeaked: number;
}

/**
 * Delete one batch of each kind of garbage upload, as of `now`, then its objects; logs one line
 * with the counts and returns them.
 *
 * Each batch is one `DELETE ... RETURNING`: selection and delete are the same statement, so an
 * upload completed or attached meanwhile is not selected. Only garbage rows are picked (the
 * reference check is in the selection too), so referenced rows never crowd a batch out.
 */
export async function cleanUpStorage(
  env: Env,
  now: Date,
  { batchSize = CLEANUP_BATCH_SIZE }: { batchSize?: number } = {},
): Promise<CleanupCounts> {
  const started = Date.now();
  const d1 = new D1Tracker();
  const db = createDb(trackD1(env.DB, d1));
  const counts: CleanupCounts = {
    pending: 0,
    failed: 0,
    unreferencedProfilePictures: 0,
    objects: 0,
    objectsLeaked: 0,
  };
  for (const [category, candidates] of Object.entries(garbageUploads(db, now, batchSize))) {
    const deleted = await deleteUnreferencedUploads(db, env.BUCKET, candidates);
    counts[category as GarbageCategory] = deleted.uploads;
    counts.objects += deleted.objects;
    counts.objectsLeaked += deleted.objectsLeaked;
  }

  console.log(
    JSON.stringify({
      level: "info",
      msg: "storage cleanup",
      now: now.toISOString(),
      batchSize,
      deleted: counts,
      d1RoundTrips: d1.roundTrips,
      durationMs: Date.now() - started,
    }),
  );
  return counts;
}

/**
 * Delete the uploads `candidates` selects that no user references, then their objects.
 *
 * The reference check is in the `DELETE` itself, so a reference that appears after the candidates
 * were chosen keeps the upload (and `users.profile_picture_upload_id`'s foreign key would refuse
 * the delete anyway, failing the whole batch). Objects go only after their row is gone: a failure
 * between the two leaks an object, it never leaves a row pointing at missing bytes.
 */
export async function deleteUnreferencedUploads(
  db: Database,
  bucket: R2Bucket,
  candidates: SQL,
): Promise<{ uploads: number; objects: number; objectsLeaked: number }> {
  const deleted = await unreferencedUploadsDelete(db, candidates);
  const keys = deleted.flatMap((row) => (row.thumbKey ? [row.objectKey, row.thumbKey] : [row.objectKey]));
  let objectsLeaked = 0;
  for (let i = 0; i < keys.length; i += R2_DELETE_MAX_KEYS) {
    const chunk = keys.slice(i, i + R2_DELETE_MAX_KEYS);
    try {
      await bucket.delete(chunk);
    } catch (error) {
      objectsLeaked += chunk.length;
      console.error(
        JSON.stringify({
          level: "error",
          msg: "storage cleanup: objects not deleted",
          keys: chunk,
          error: error instanceof Error ? error.message : String(error),
        }),
      );
    }
  }
  return { uploads: deleted.length, objects: keys.length - objectsLeaked, objectsLeaked };
}

export type GarbageCategory = "pending" | "failed" | "unreferencedProfilePictures";

/**
 * One batch of each category, oldest first, as a condition on `uploads.id` (a subquery, so the
 * selection runs inside the delete statement). Attachments that are ready are never garbage here.
 */
export function garbageUploads(db: Database, now: Date, batchSize: number): Record<GarbageCategory, SQL> {
  const before = (ageMs: number) => new Date(now.getTime() - ageMs);
  const conditions = {
    pending: stale("pending", before(PENDING_MAX_AGE_MS)),
    failed: stale("failed", before(FAILED_MAX_AGE_MS)),
    unreferencedProfilePictures: and(
      stale("ready", before(UNREFERENCED_MAX_AGE_MS)),
      eq(uploads.scope, "profile_picture"),
    ),
  };
  const batchOf = (condition: SQL | undefined) =>
    inArray(
      uploads.id,
      db
        .select({ id: uploads.id })
        .from(uploads)
        .where(and(condition, unreferenced(db)))
        .orderBy(asc(uploads.createdAt))
        .limit(batchSize),
    );
  return {
    pending: batchOf(conditions.pending),
    failed: batchOf(conditions.failed),
    unreferencedProfilePictures: batchOf(conditions.unreferencedProfilePictures),
  };
}

/** The guarded delete itself; exported so a test can read its query plan. */
export const unreferencedUploadsDelete = (db: Database, candidates: SQL) =>
  db
    .delete(uploads)
    .where(and(candidates, unreferenced(db)))
    .returning({ objectKey: uploads.objectKey, thumbKey: uploads.thumbKey });

/**
 * In `state`, last changed before `cutoff`. `updated_at >= created_at`, so the `created_at` bound
 * changes nothing but lets `uploads_state_created_at_idx` range-scan instead of a table scan.
 */
const stale = (state: UploadState, cutoff: Date) =>
  and(eq(uploads.state, state), lt(uploads.createdAt, cutoff), lt(uploads.updatedAt, cutoff));

/** No user has this upload as their profile picture (served by `users_profile_picture_upload_id_idx`). */
const unreferenced = (db: Database) =>
  notExists(db.select({ one: sql`1` }).from(users).where(eq(users.profilePictureUploadId, uploads.id)));
