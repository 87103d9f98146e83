import { and, eq, exists, ne, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { nextUpdatedAt, type User, uploads, users } from "../db/schema";
import { ApiError } from "../lib/errors/api-error";
import { sniffType } from "./magic-bytes";
import { fetchRemotePicture, ImportFailure, type RemotePicturePolicy } from "./remote-picture";
import type { PictureStorage } from "./settle-upload";
import { discardUpload, storeImage } from "./store-image";
import { IMAGE_TYPES } from "./upload-rules";

/** One picture to import: the user, by WorkOS id, and the URL WorkOS gave them. */
export interface PictureToImport {
  workosUserId: string;
  url: string;
}

export interface ImportDeps extends PictureStorage {
  policy: RemotePicturePolicy;
}

/** `imported`: the user's avatar is now their WorkOS picture; `unchanged`: there was nothing to do. */
export type ImportResult = "imported" | "unchanged";

/**
 * Import the user's WorkOS picture into R2, as an upload of theirs (origin `import`) with the same
 * checks and thumbnails as any other, and show it as their avatar. Idempotent, and safe in any
 * order: nothing is done for a user who is gone, whose URL is another by now (that URL has a job of
 * its own), or whose URL was imported or refused already; and the statement that shows the import
 * checks all of that again as it writes, so a job that loses a race discards its upload. Throws
 * `ImportFailure` when the picture cannot be imported: `permanent` (a URL we refuse to fetch, an
 * answer that is not an image, bytes that fail the checks) or worth another try.
 *
 * The custom photo, `profilePictureUrl` and `hasCustomProfilePicture` are never touched.
 */
export async function importPicture(deps: ImportDeps, job: PictureToImport): Promise<ImportResult> {
  const user = await deps.db.query.users.findFirst({ where: eq(users.workosUserId, job.workosUserId) });
  if (!isDue(user, job.url)) return "unchanged";
  const bytes = await fetchRemotePicture(job.url, deps.policy);
  const contentType = sniffType(bytes.subarray(0, 16));
  if (!contentType || !IMAGE_TYPES.includes(contentType)) {
    throw new ImportFailure(`The picture is not an image (${IMAGE_TYPES.join(", ")}).`, true);
  }
  let upload: { id: string };
  try {
    upload = await storeImage(deps, user, { contentType, size: bytes.byteLength, bytes }, null, "import");
  } catch (error) {
    if (error instanceof ApiError && error.code === "upload_invalid") {
      throw new ImportFailure(
        typeof error.detail === "string" ? error.detail : "The picture was refused.",
        true,
      );
    }
    throw error;
  }
  const [shown] = await showImport(deps.db, job, upload.id);
  if (shown) return "imported";
  // The user changed, went or was imported meanwhile: this upload is no one's picture.
  await discardUpload(deps, upload.id, null);
  return "unchanged";
}

function isDue(user: User | undefined, url: string): user is User {
  return (
    user !== undefined &&
    user.state !== "deleted" &&
    user.workosProfilePictureUrl === url &&
    user.pictureImportUrl !== url
  );
}

/** The user, not deleted, still with `url` as their WorkOS picture, not imported or refused yet. */
const stillDue = ({ workosUserId, url }: PictureToImport) =>
  and(
    eq(users.workosUserId, workosUserId),
    ne(users.state, "deleted"),
    eq(users.workosProfilePictureUrl, url),
    sql`${users.pictureImportUrl} IS NOT ${url}`,
  );

/**
 * Show the import as the user's avatar, in one conditional statement: only while it is still due,
 * and only a ready upload. A change of what a profile shows moves its version (`updated_at`).
 */
function showImport(db: Database, job: PictureToImport, uploadId: string) {
  return db
    .update(users)
    .set({
      importedPictureUploadId: uploadId,
      pictureImportUrl: job.url,
      updatedAt: nextUpdatedAt(new Date()),
    })
    .where(
      and(
        stillDue(job),
        exists(
          db
            .select({ one: sql`1` })
            .from(uploads)
            .where(and(eq(uploads.id, uploadId), eq(uploads.state, "ready"))),
        ),
      ),
    )
    .returning({ id: users.id });
}

/**
 * Record that `url` will not be imported (refused for good, or given up after every retry): the
 * avatar stays initials, and neither a redelivery nor the hourly job tries it again. A newer URL is
 * imported afresh. Nothing about the profile changes, so its version does not move.
 */
export async function recordImportRefused(db: Database, job: PictureToImport): Promise<void> {
  await db
    .update(users)
    .set({ pictureImportUrl: job.url, importedPictureUploadId: null })
    .where(stillDue(job));
}
