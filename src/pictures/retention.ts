/**
 * How long uploads that no one needs are kept before the storage cleanup (`src/jobs/storage-cleanup.ts`)
 * deletes them: the policy the cleanup applies and the API states (the pending cap's `Retry-After`).
 */
export const HOUR_MS = 60 * 60 * 1000;
export const DAY_MS = 24 * HOUR_MS;
/** A pending upload's PUT URL is long expired by then: the client gave up. */
export const PENDING_MAX_AGE_MS = DAY_MS;
/** Long enough for a client to read why an upload failed, or to attach a photo it uploaded. */
export const FAILED_MAX_AGE_MS = 7 * DAY_MS;
export const UNREFERENCED_MAX_AGE_MS = 7 * DAY_MS;

/** How long a presigned upload PUT URL is valid: long enough for a slow phone upload, no more. */
export const UPLOAD_URL_TTL_SECONDS = 600;

/**
 * How far R2's clock may be from ours, and so how long after its expiry, by our clock, a PUT URL
 * may still be accepted: S3's own allowance (`RequestTimeTooSkewed` past 15 minutes), which also
 * covers the bytes of an upload started just before the URL expired.
 */
const UPLOAD_URL_SKEW_MS = 15 * 60 * 1000;

/**
 * A deleted user's pending or failed upload is kept this long after it started: its PUT URL may
 * still store bytes until then, and the row is how the cleanup finds them. (A failed upload's
 * refused bytes were deleted, so its URL could write the object again.) Their ready uploads, whose
 * URL is spent (write-once), go at once.
 */
export const DELETED_OWNER_UPLOAD_WRITABLE_MS = UPLOAD_URL_TTL_SECONDS * 1000 + UPLOAD_URL_SKEW_MS;

/** How often the cron runs the cleanup (`[triggers]` in wrangler.toml). */
const CLEANUP_INTERVAL_MS = HOUR_MS;

/** When a pending upload started at `createdAt` will have expired and been deleted (if the cleanup keeps up). */
export const pendingUploadGoneBy = (createdAt: Date) =>
  new Date(createdAt.getTime() + PENDING_MAX_AGE_MS + CLEANUP_INTERVAL_MS);
