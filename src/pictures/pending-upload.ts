import { and, count, eq, getTableColumns, min, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { type Upload, type UploadOrigin, type User, uploads } from "../db/schema";
import { ApiError, retryAfter } from "../lib/errors/api-error";
import { originalKeyFor } from "../lib/object-keys";
import { uploadOf } from "./own-upload";
import { HOUR_MS, PENDING_MAX_AGE_MS, pendingUploadGoneBy } from "./retention";
import { MAX_PENDING_UPLOADS_PER_USER } from "./upload-rules";

/** What a new upload is declared as: by `POST /uploads`'s body, or by the one-call PUT's headers. */
export type DeclaredUpload = Pick<Upload, "kind" | "scope" | "contentType" | "size"> & {
  filename?: string | null | undefined;
};

/**
 * Insert upload `id`, `pending`, owned by `caller`; 429 when the caller already has
 * `MAX_PENDING_UPLOADS_PER_USER` uploads pending. Its object's key is derived from its id, so
 * whatever is stored for it later, the storage cleanup can find by the row. An import is the
 * service's own doing, one at a time per user, so the cap (which bounds what clients park) is not
 * its to count against.
 */
export async function createPendingUpload(
  db: Database,
  caller: User,
  id: string,
  declared: DeclaredUpload,
  nowMs: number = Date.now(),
  origin: UploadOrigin = "upload",
): Promise<Upload> {
  const now = new Date(nowMs);
  const row: Upload = {
    id,
    ownerId: caller.id,
    kind: declared.kind,
    scope: declared.scope,
    state: "pending",
    contentType: declared.contentType,
    size: declared.size,
    filename: declared.filename ?? null,
    objectKey: originalKeyFor(id),
    thumbKey: null,
    thumbSizes: null,
    failureReason: null,
    origin,
    createdAt: now,
    updatedAt: now,
  };
  const [inserted] =
    origin === "import"
      ? await db.insert(uploads).values(row).onConflictDoNothing().returning()
      : await insertUnderPendingCap(db, row);
  // Nothing inserted: either a retry of this very statement found the row its lost first attempt
  // wrote (the id is this request's own), or the caller has too many uploads pending.
  const upload = inserted ?? (await uploadOf(db, caller, id));
  if (!upload) throw await tooManyPending(db, caller, nowMs);
  return upload;
}

const pendingOf = (ownerId: string) => and(eq(uploads.ownerId, ownerId), eq(uploads.state, "pending"));

/**
 * Insert `row` unless its owner already has `MAX_PENDING_UPLOADS_PER_USER` pending uploads. The
 * count and the insert are one statement (the count served by
 * `uploads_owner_id_state_created_at_idx`), so concurrent creates cannot overshoot.
 * `ON CONFLICT DO NOTHING` makes the statement safe to repeat: when D1 retries it after a reply
 * lost past its commit (`src/lib/d1.ts`), the row already written turns the retry into a no-op
 * instead of a unique-key error.
 */
function insertUnderPendingCap(db: Database, row: Upload) {
  // `INSERT ... SELECT` lists every column in the table's order; the values follow the same order.
  const values = Object.entries(getTableColumns(uploads)).map(([key, column]) => {
    const value = row[key as keyof Upload];
    return value === null ? sql`null` : sql.param(value, column);
  });
  const pending = db.select({ count: count() }).from(uploads).where(pendingOf(row.ownerId));
  return db
    .insert(uploads)
    .select(sql`select ${sql.join(values, sql`, `)} where (${pending}) < ${MAX_PENDING_UPLOADS_PER_USER}`)
    .onConflictDoNothing()
    .returning();
}

/** 429 with the time by which the oldest pending upload will have expired and been cleaned up. */
async function tooManyPending(db: Database, caller: User, nowMs: number): Promise<ApiError> {
  const [oldest] = await db
    .select({ createdAt: min(uploads.createdAt) })
    .from(uploads)
    .where(pendingOf(caller.id));
  const freedAt = oldest?.createdAt ? pendingUploadGoneBy(oldest.createdAt).getTime() : nowMs;
  return new ApiError(
    "rate_limited",
    `You have ${MAX_PENDING_UPLOADS_PER_USER} uploads pending, the most one user may have: complete them, ` +
      `or wait until they expire (${PENDING_MAX_AGE_MS / HOUR_MS} hours after they were started).`,
    retryAfter(Math.max(1, Math.ceil((freedAt - nowMs) / 1000))),
  );
}
