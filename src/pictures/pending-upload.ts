import { and, count, eq, getTableColumns, min, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { type Upload, type UploadOrigin, type User, uploads, users } from "../db/schema";
import { ApiError, retryAfter } from "../lib/errors/api-error";
import { originalKeyFor } from "../lib/object-keys";
import { uploadOf } from "./own-upload";
import { HOUR_MS, PENDING_MAX_AGE_MS, pendingUploadGoneBy } from "./retention";
import { MAX_PENDING_UPLOADS_PER_USER } from "./upload-rules";

/** What a new upload is declared as: by `POST /uploads`'s body, or by the one-call PUT's headers. */
export type DeclaredUpload = Pick<Upload, "kind" | "scope" | "contentType" | "size"> & {
  filename?: string | null | undefined;
};

/** How a new upload is inserted: when, by whom, and under which storage quota. */
export interface PendingUploadOptions {
  nowMs?: number;
  origin?: UploadOrigin;
  /**
   * What the caller's attachments (pending and ready) may take in all, in bytes
   * (`MAX_ATTACHMENT_BYTES_PER_USER`); needed to insert an attachment.
   */
  maxAttachmentBytes?: number;
}

/**
 * Insert upload `id`, `pending`, owned by `caller`; 429 when the caller already has
 * `MAX_PENDING_UPLOADS_PER_USER` uploads pending, and for an attachment 403 `quota_exceeded` when
 * the caller's attachments would pass `maxAttachmentBytes`. Its object's key is derived from its
 * id, so whatever is stored for it later, the storage cleanup can find by the row. An import is the
 * service's own doing, one at a time per user, so the caps (which bound what clients park) are not
 * its to count against.
 */
export async function createPendingUpload(
  db: Database,
  caller: User,
  id: string,
  declared: DeclaredUpload,
  { nowMs = Date.now(), origin = "upload", maxAttachmentBytes }: PendingUploadOptions = {},
): Promise<Upload> {
  const quota = declared.scope === "attachment" ? maxAttachmentBytes : undefined;
  if (declared.scope === "attachment" && quota === undefined) {
    throw new Error("an attachment is inserted under the attachment quota: pass maxAttachmentBytes");
  }
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
    unreferencedSince: null,
    ownerDeletedAt: null,
    createdAt: now,
    updatedAt: now,
  };
  const [inserted] =
    origin === "import"
      ? await db.insert(uploads).values(row).onConflictDoNothing().returning()
      : await insertUnderCaps(db, row, quota);
  // Nothing inserted: either a retry of this very statement found the row its lost first attempt
  // wrote (the id is this request's own), or a cap said no.
  const upload = inserted ?? (await uploadOf(db, caller, id));
  if (!upload) throw await refusal(db, row, quota, nowMs);
  return upload;
}

const pendingOf = (ownerId: string) => and(eq(uploads.ownerId, ownerId), eq(uploads.state, "pending"));

/** The caller's attachments' bytes (`users.attachment_bytes`, kept by trigger): one row read. */
const attachmentBytesOf = (db: Database, ownerId: string) =>
  db.select({ bytes: users.attachmentBytes }).from(users).where(eq(users.id, ownerId));

/**
 * Insert `row` unless its owner already has `MAX_PENDING_UPLOADS_PER_USER` pending uploads or, for
 * an attachment, unless it would take the owner's attachments past `maxAttachmentBytes`. The
 * counts and the insert are one statement (the pending count served by
 * `uploads_owner_id_state_created_at_idx`, the bytes by the owner's row, which the insert's own
 * trigger then moves), so concurrent creates cannot overshoot either cap.
 * `ON CONFLICT DO NOTHING` makes the statement safe to repeat: when D1 retries it after a reply
 * lost past its commit (`src/lib/d1.ts`), the row already written turns the retry into a no-op
 * instead of a unique-key error.
 */
function insertUnderCaps(db: Database, row: Upload, maxAttachmentBytes: number | undefined) {
  // `INSERT ... SELECT` lists every column in the table's order; the values follow the same order.
  const values = Object.entries(getTableColumns(uploads)).map(([key, column]) => {
    const value = row[key as keyof Upload];
    return value === null ? sql`null` : sql.param(value, column);
  });
  const pending = db.select({ count: count() }).from(uploads).where(pendingOf(row.ownerId));
  const underQuota =
    maxAttachmentBytes === undefined
      ? sql``
      : sql` and (${attachmentBytesOf(db, row.ownerId)}) + ${row.size} <= ${maxAttachmentBytes}`;
  return db
    .insert(uploads)
    .select(
      sql`select ${sql.join(values, sql`, `)} where (${pending}) < ${MAX_PENDING_UPLOADS_PER_USER}${underQuota}`,
    )
    .onConflictDoNothing()
    .returning();
}

/**
 * Why `row` was not inserted, as its error: the attachment quota (403 `quota_exceeded`, the bytes
 * used and the limit), else the pending cap (429 with the time by which the oldest pending upload
 * will have expired and been cleaned up). Both are read in one statement.
 */
async function refusal(
  db: Database,
  row: Upload,
  maxAttachmentBytes: number | undefined,
  nowMs: number,
): Promise<ApiError> {
  const [counts] = await db
    .select({
      oldestPending: min(uploads.createdAt),
      attachmentBytes: sql<number>`(${attachmentBytesOf(db, row.ownerId)})`,
    })
    .from(uploads)
    .where(pendingOf(row.ownerId));
  const used = counts?.attachmentBytes ?? 0;
  if (maxAttachmentBytes !== undefined && used + row.size > maxAttachmentBytes) {
    return new ApiError(
      "quota_exceeded",
      `Your attachments, pending and ready, take ${used} bytes of the ${maxAttachmentBytes} bytes one user ` +
        `may store; this one's ${row.size} bytes would pass that. Nothing was stored.`,
    );
  }
  const freedAt = counts?.oldestPending ? pendingUploadGoneBy(counts.oldestPending).getTime() : nowMs;
  return new ApiError(
    "rate_limited",
    `You have ${MAX_PENDING_UPLOADS_PER_USER} uploads pending, the most one user may have: complete them, ` +
      `or wait until they expire (${PENDING_MAX_AGE_MS / HOUR_MS} hours after they were started).`,
    retryAfter(Math.max(1, Math.ceil((freedAt - nowMs) / 1000))),
  );
}
