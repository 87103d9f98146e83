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

/** How often the cron runs the cleanup (`[triggers]` in wrangler.toml). */
const CLEANUP_INTERVAL_MS = HOUR_MS;

/** When a pending upload started at `createdAt` will have expired and been deleted (if the cleanup keeps up). */
export const pendingUploadGoneBy = (createdAt: Date) =>
  new Date(createdAt.getTime() + PENDING_MAX_AGE_MS + CLEANUP_INTERVAL_MS);
