import { and, asc, count, eq, inArray, isNotNull, lt, or, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { createDb, type Database } from "../db/client";
import { type UploadState, uploads, webhookEvents } from "../db/schema";
import { D1Session, isOneOf, MAX_ATTEMPTS } from "../lib/d1";
import {
  countRecordedUploads,
  deleteObjectsOf,
  forget,
  objectKeysOf,
  R2_DELETE_MAX_KEYS,
  recordedUploads,
  recordGone,
} from "../pictures/objects-to-delete";
import { unreferenced } from "../pictures/references";
import {
  DAY_MS,
  DELETED_OWNER_UPLOAD_WRITABLE_MS,
  FAILED_MAX_AGE_MS,
  PENDING_MAX_AGE_MS,
  UNREFERENCED_MAX_AGE_MS,
} from "../pictures/retention";

/**
 * How long a processed WorkOS event id is remembered. WorkOS redelivers an event it could not
 * deliver for days, not weeks, so a month is far past the last redelivery. And a redelivery after
 * that still changes nothing: every event's write is guarded by what it would change (a user's and a
 * membership's WorkOS `updated_at`, `last_login` only moving forward, a deletion being final), so the
 * ids spare a replay its write; they are not what keeps the data right.
 */
export const WEBHOOK_EVENT_RETENTION_MS = 30 * DAY_MS;

export interface CleanupLimits {
  /** Uploads per batch: five keys each (the original and a thumbnail per size), so 500 make three R2 calls. */
  batchSize: number;
  /** No new round of uploads starts after this long (wall clock, from the start of the run). */
  timeBudgetMs: number;
  /** Nor after this many rounds, each one batch of every unfinished category. */
  maxRounds: number;
  /**
   * Batches (of `batchSize` uploads) of objects that earlier runs left recorded to delete (a failed R2
   * delete, an invocation that died), retried first.
   */
  maxRetryBatches: number;
  /** Processed webhook event ids forgotten per statement, */
  eventBatchSize: number;
  /** in at most this many statements a run, after the uploads, */
  maxEventBatches: number;
  /**
   * and no new one after this long of their own: a share of the run that is theirs, whatever the
   * uploads took (a backlog of uploads never starves the forgetting of ids).
   */
  eventsTimeBudgetMs: number;
}

/**
 * A run first retries what earlier runs left recorded to delete, at most 4 batches. Then it takes
 * batches until every category comes back short, for at most 25 s and 12 rounds (6,000 uploads a
 * category: far more than the 1,800 one caller may start in an hour), then forgets webhook event
 * ids for at most 5 s of their own and 10 statements of 10,000. Well inside a Cron Trigger's limits
 * (on the Paid plan, 15 minutes of CPU and of wall clock for a schedule of an hour or more), and
 * inside D1's 1,000 queries an invocation even when every query is tried three times
 * (`worstCaseQueries`: 795), and the Workers' 1,000 subrequests (`worstCaseSubrequests`: 507; a
 * batch's keys, five an upload, go to R2 in three calls of at most 1,000). And D1 runs one query at
 * a time: 30 s an hour leaves it to the requests.
 * @see https://developers.cloudflare.com/workers/platform/limits/
 * @see https://developers.cloudflare.com/d1/platform/limits/
 */
export const CLEANUP_LIMITS: CleanupLimits = {
  batchSize: 500,
  timeBudgetMs: 25_000,
  maxRounds: 12,
  maxRetryBatches: 4,
  eventBatchSize: 10_000,
  maxEventBatches: 10,
  eventsTimeBudgetMs: 5_000,
};

/** D1 allows a Worker invocation 1,000 queries (a batch's statements count one each). */
export const D1_QUERIES_PER_INVOCATION = 1000;

const CATEGORY_COUNT = 4;
/** R2 calls for one batch's keys: every key of each upload, at most `R2_DELETE_MAX_KEYS` a call. */
const r2CallsPerBatch = (batchSize: number) =>
  Math.ceil((batchSize * objectKeysOf("").length) / R2_DELETE_MAX_KEYS);

/**
 * The most D1 queries one run can send: every statement it can make at its limits, each tried
 * `MAX_ATTEMPTS` times (the D1 layer's retries). Per retry batch: its selection and the statement
 * forgetting the batch before; per round and category: the selection, then one batch of four (forget
 * the last batch's records, the guarded delete, record the gone uploads, read back which went); one
 * statement forgetting the last records; the event ids' statements; and, when it stops early, one
 * count per category, one of event ids and one of recorded uploads.
 */
export function worstCaseQueries(limits: CleanupLimits = CLEANUP_LIMITS): number {
  const statements =
    limits.maxRetryBatches * 2 +
    limits.maxRounds * CATEGORY_COUNT * (1 + 4) +
    1 +
    limits.maxEventBatches +
    CATEGORY_COUNT +
    2;
  return statements * MAX_ATTEMPTS;
}

/** The most subrequests one run can make: each D1 round trip (retries included) and each R2 call. */
export function worstCaseSubrequests(limits: CleanupLimits = CLEANUP_LIMITS): number {
  const r2 = r2CallsPerBatch(limits.batchSize);
  const roundTrips =
    limits.maxRetryBatches +
    limits.maxRounds * CATEGORY_COUNT * 2 +
    1 +
    limits.maxEventBatches +
    CATEGORY_COUNT +
    2;
  const r2Calls = (limits.maxRetryBatches + limits.maxRounds * CATEGORY_COUNT) * r2;
  return roundTrips * MAX_ATTEMPTS + r2Calls;
}

export type GarbageCategory = "pending" | "failed" | "unreferencedProfilePictures" | "ofDeletedUsers";

export type CleanupCounts = Record<GarbageCategory, number> & {
  /** R2 keys of this run's uploads deleted (originals and thumbnails; a key with no object counts too). */
  objects: number;
  /**
   * R2 keys whose delete failed after their row was gone: their uploads stay recorded
   * (`upload_objects_to_delete`), and the next run tries again.
   */
  objectsLeft: number;
  /** R2 keys deleted for uploads earlier runs (or discarded uploads) left recorded. */
  objectsRetried: number;
  /** Processed webhook event ids forgotten (`WEBHOOK_EVENT_RETENTION_MS`). */
  webhookEvents: number;
};

type Statement = BatchItem<"sqlite">;

/** A batch's statements, as the non-empty tuple `db.batch` takes: every caller passes its own last one. */
const nonEmpty = (...statements: Statement[]) => statements as [Statement, ...Statement[]];

/**
 * Uploads whose objects R2 has deleted, still recorded: their records are forgotten by the run's
 * next D1 batch, which costs no round trip of its own, or by `flush` at the end.
 */
export class DeletedObjects {
  #uploadIds: string[] = [];

  add(uploadIds: readonly string[]): void {
    this.#uploadIds.push(...uploadIds);
  }

  /** The statement forgetting them, to ride in the next batch (none when there is nothing to forget). */
  take(db: Database): Statement[] {
    if (this.#uploadIds.length === 0) return [];
    const statement = forget(db, this.#uploadIds);
    this.#uploadIds = [];
    return [statement];
  }

  async flush(db: Database): Promise<void> {
    const [statement] = this.take(db);
    if (statement) await statement;
  }
}

/**
 * Delete garbage uploads as of `now`, with their objects, in rounds of one batch per category
 * until every category comes back short or the limits are reached; then forget the processed
 * webhook event ids past their retention, in the time left. Logs one line with the counts, and
 * with what is left when it stopped early. Returns the counts.
 */
export async function cleanUpStorage(
  env: Env,
  now: Date,
  limits: Partial<CleanupLimits> = {},
): Promise<CleanupCounts> {
  const {
    batchSize,
    timeBudgetMs,
    maxRounds,
    maxRetryBatches,
    eventBatchSize,
    maxEventBatches,
    eventsTimeBudgetMs,
  } = { ...CLEANUP_LIMITS, ...limits };
  const started = Date.now();
  // One session for the run, from the primary: its first selection is current (a lagging replica would
  // offer uploads already gone), and each later one sees the deletes before it.
  // Counting the rows D1 reads (every statement here names each column once): the run logs them.
  const d1 = new D1Session(env.DB, "first-primary", { countRowsRead: true });
  const db = createDb(d1.client);
  const categories = garbageCategories(now);
  const counts: CleanupCounts = {
    pending: 0,
    failed: 0,
    unreferencedProfilePictures: 0,
    ofDeletedUsers: 0,
    objects: 0,
    objectsLeft: 0,
    objectsRetried: 0,
    webhookEvents: 0,
  };
  const deletedObjects = new DeletedObjects();
  let retriesFinished = false;
  for (let batch = 0; !retriesFinished && batch < maxRetryBatches; batch++) {
    // The records of the previous batch go in the same round trip as the next selection.
    const results = await db.batch(nonEmpty(...deletedObjects.take(db), recordedUploads(db, batchSize)));
    const recorded = results.at(-1) as Awaited<ReturnType<typeof recordedUploads>>;
    const retried = await deleteObjectsOf(
      env.BUCKET,
      recorded.map((row) => row.uploadId),
    );
    deletedObjects.add(retried.deleted);
    counts.objectsRetried += retried.objects;
    counts.objectsLeft += retried.objectsLeft;
    retriesFinished = recorded.length < batchSize;
  }

  let unfinished = Object.keys(categories) as GarbageCategory[];
  let rounds = 0;
  do {
    rounds++;
    const finished = new Set<GarbageCategory>();
    for (const category of unfinished) {
      const batch = await deleteUnreferencedUploads(
        db,
        env.BUCKET,
        categories[category],
        batchSize,
        deletedObjects,
      );
      counts[category] += batch.uploads;
      counts.objects += batch.objects;
      counts.objectsLeft += batch.objectsLeft;
      if (batch.selected < batchSize) finished.add(category);
    }
    unfinished = unfinished.filter((category) => !finished.has(category));
  } while (unfinished.length > 0 && Date.now() - started < timeBudgetMs && rounds < maxRounds);
  await deletedObjects.flush(db);

  const eventsStarted = Date.now();
  const eventsBefore = new Date(now.getTime() - WEBHOOK_EVENT_RETENTION_MS);
  let eventsFinished = false;
  for (let batch = 0; !eventsFinished && batch < maxEventBatches; batch++) {
    if (batch > 0 && Date.now() - eventsStarted >= eventsTimeBudgetMs) break;
    const forgotten = await forgetWebhookEvents(db, eventsBefore, eventBatchSize);
    counts.webhookEvents += forgotten;
    eventsFinished = forgotten < eventBatchSize;
  }

  // Stopped early: say how much is left, so a backlog shows in the logs before it shows in R2 or D1.
  const left: Partial<Record<GarbageCategory | "webhookEvents" | "objectsToDelete", number>> = {};
  for (const category of unfinished) left[category] = await countUnreferenced(db, categories[category]);
  if (!eventsFinished) left.webhookEvents = await countWebhookEventsBefore(db, eventsBefore);
  if (!retriesFinished || counts.objectsLeft > 0) left.objectsToDelete = await countRecordedUploads(db);
  console.log(
    JSON.stringify({
      level: Object.keys(left).length > 0 ? "warn" : "info",
      msg: "storage cleanup",
      now: now.toISOString(),
      batchSize,
      rounds,
      deleted: counts,
      left,
      d1RoundTrips: d1.roundTrips,
      d1RowsRead: d1.rowsRead,
      durationMs: Date.now() - started,
      webhookEventsMs: Date.now() - eventsStarted,
    }),
  );
  return counts;
}

/** Which uploads a category holds, and in which order a batch takes them. */
export interface Garbage {
  where: SQL;
  /** Oldest first, by the column the category's index is ordered by; none when all go anyway. */
  oldestFirst?: SQLiteColumn;
}

export interface BatchResult {
  /** Candidates the batch selected: fewer than asked means the category is done for now. */
  selected: number;
  /** Upload rows deleted. */
  uploads: number;
  /** Their R2 keys deleted. */
  objects: number;
  /** Their R2 keys whose delete failed: left recorded for the next run. */
  objectsLeft: number;
}

/**
 * Delete up to `batchSize` uploads of `garbage` that no user references, then their objects.
 *
 * Every statement here is safe for D1 to repeat after a reply lost past its commit
 * (`src/lib/d1.ts`): the candidates are read first; the delete repeats the whole condition (an
 * upload completed, attached or re-stamped since it was read is kept, and
 * `users.profile_picture_upload_id`'s foreign key would refuse the delete anyway); the same batch (a
 * D1 batch is one transaction) records the uploads whose rows went, so their objects are never lost
 * track of (`objects-to-delete.ts`), and reads back which rows went, never trusting a `RETURNING`
 * that a retry would answer empty. Objects go only after their row: a failure between the two, or
 * an invocation that dies there, leaves the record, and the next run deletes them. The keys are
 * derived from the id, every size of thumbnail, so thumbnails written by a `complete` whose state
 * change failed go too (and the sizes an upload from before there were sizes never had cost
 * nothing). `deletedObjects` carries the records to forget into the next batch; without one the
 * batch forgets its own in a statement of their own.
 */
export async function deleteUnreferencedUploads(
  db: Database,
  bucket: R2Bucket,
  garbage: Garbage,
  batchSize: number,
  deletedObjects?: DeletedObjects,
): Promise<BatchResult> {
  const carried = deletedObjects ?? new DeletedObjects();
  const candidates = await selectCandidates(db, garbage, batchSize);
  if (candidates.length === 0) return { selected: 0, uploads: 0, objects: 0, objectsLeft: 0 };
  const ids = candidates.map((candidate) => candidate.id);
  const results = await db.batch(
    nonEmpty(
      ...carried.take(db),
      guardedDelete(db, garbage, ids),
      recordGone(db, ids, new Date()),
      stillStored(db, ids),
    ),
  );
  const kept = new Set((results.at(-1) as { id: string }[]).map((row) => row.id));
  const deleted = ids.filter((id) => !kept.has(id));
  const removed = await deleteObjectsOf(bucket, deleted);
  carried.add(removed.deleted);
  if (!deletedObjects) await carried.flush(db);
  return {
    selected: candidates.length,
    uploads: deleted.length,
    objects: removed.objects,
    objectsLeft: removed.objectsLeft,
  };
}

/**
 * The categories as of `now`. Ready attachments of live users are never garbage. An upload a user
 * references as their profile picture is never garbage either, whoever owns it: an admin may have
 * set a teammate's photo from the admin's own upload, and that photo stays while it is in use,
 * also after the admin was deleted.
 */
export function garbageCategories(now: Date): Record<GarbageCategory, Garbage> {
  const before = (ageMs: number) => new Date(now.getTime() - ageMs);
  return {
    pending: { where: stale("pending", before(PENDING_MAX_AGE_MS)), oldestFirst: uploads.createdAt },
    failed: { where: stale("failed", before(FAILED_MAX_AGE_MS)), oldestFirst: uploads.createdAt },
    // Served by the partial `uploads_unreferenced_since_idx`, which holds nothing but ready photos
    // no one shows: never the photos in use, however many there are.
    unreferencedProfilePictures: {
      where: and(
        isNotNull(uploads.unreferencedSince),
        lt(uploads.unreferencedSince, before(UNREFERENCED_MAX_AGE_MS)),
        // Only ever set on ready photos; said again for safety, behind a unary `+` so that SQLite's
        // planner, which has no statistics, does not prefer the (state, created_at) index to the
        // partial one and read every ready upload.
        sql`+${uploads.state} = 'ready'`,
      ) as SQL,
      oldestFirst: uploads.unreferencedSince,
    },
    // Everything a deleted user owns, with no grace period, except what an upload URL handed out
    // before the deletion may still write to: a pending or failed upload whose URL has not expired
    // (plus skew) keeps its row until then, or a late PUT would store an object no row knows. Served
    // by the partial `uploads_owner_deleted_at_idx`: the uploads the deletion dated, never the
    // tombstones of every user ever deleted.
    ofDeletedUsers: {
      where: and(
        isNotNull(uploads.ownerDeletedAt),
        or(eq(uploads.state, "ready"), lt(uploads.createdAt, before(DELETED_OWNER_UPLOAD_WRITABLE_MS))),
      ) as SQL,
      oldestFirst: uploads.ownerDeletedAt,
    },
  };
}

/** One batch's candidates. */
const selectCandidates = (db: Database, garbage: Garbage, batchSize: number) =>
  db
    .select({ id: uploads.id })
    .from(uploads)
    .where(and(garbage.where, unreferenced(db)))
    .orderBy(...(garbage.oldestFirst ? [asc(garbage.oldestFirst)] : []))
    .limit(batchSize);

/** The candidates, by id, as a single bound value: D1 binds at most 100 values a statement. */
const inIds = (ids: string[]) => isOneOf(uploads.id, ids);

/**
 * The candidates, if they still are garbage. The repeated condition is wrapped in a unary `+`,
 * which SQLite's planner cannot use to pick an index: left bare, it would prefer the category's
 * index and read the whole backlog on every batch instead of the batch's rows by primary key.
 */
const guardedDelete = (db: Database, garbage: Garbage, ids: string[]) =>
  db.delete(uploads).where(and(inIds(ids), sql`+(${garbage.where})`, unreferenced(db)));

const stillStored = (db: Database, ids: string[]) =>
  db.select({ id: uploads.id }).from(uploads).where(inIds(ids));

async function countUnreferenced(db: Database, garbage: Garbage): Promise<number> {
  const [row] = await db
    .select({ count: count() })
    .from(uploads)
    .where(and(garbage.where, unreferenced(db)));
  return row?.count ?? 0;
}

/**
 * In `state`, last changed before `cutoff`. `updated_at >= created_at`, so the `created_at` bound
 * changes nothing but lets `uploads_state_created_at_idx` range-scan instead of a table scan.
 */
const stale = (state: UploadState, cutoff: Date) =>
  and(eq(uploads.state, state), lt(uploads.createdAt, cutoff), lt(uploads.updatedAt, cutoff)) as SQL;

/**
 * Forget up to `limit` processed webhook event ids received before `before`, oldest first (through
 * `webhook_events_received_at_idx`); returns how many went. Safe to repeat after a reply lost past
 * its commit: it then forgets the next ones, or none, and the count is only reported.
 */
export async function forgetWebhookEvents(db: Database, before: Date, limit: number): Promise<number> {
  const oldest = db
    .select({ id: webhookEvents.id })
    .from(webhookEvents)
    .where(lt(webhookEvents.receivedAt, before))
    .orderBy(asc(webhookEvents.receivedAt))
    .limit(limit);
  const result = await db.delete(webhookEvents).where(inArray(webhookEvents.id, oldest)).run();
  return result.meta.changes;
}

async function countWebhookEventsBefore(db: Database, before: Date): Promise<number> {
  const [row] = await db
    .select({ count: count() })
    .from(webhookEvents)
    .where(lt(webhookEvents.receivedAt, before));
  return row?.count ?? 0;
}
