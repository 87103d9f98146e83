import { and, eq, exists, ne, type SQL, sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { type User, uploads, users } from "../../db/schema";
import { ApiError, unavailable } from "../../lib/errors";
import { canEdit, canView, findOwnUpload } from "./user-profile";

/**
 * Set (`uploadId`) or remove (`null`) `targetId`'s custom profile picture on behalf of `caller`.
 *
 * D1 has no interactive transactions, so the permission and upload checks and the write are one
 * conditional `UPDATE ... WHERE ... AND EXISTS (...) RETURNING`: an upload that changes between
 * check and write is never attached. Only when it matches nothing do we read, to explain why.
 * Setting the photo already set, or removing when none is set, matches and changes nothing
 * (`updated_at` keeps its value).
 */
export async function updateProfilePicture(
  db: Database,
  caller: User,
  targetId: string,
  uploadId: string | null,
): Promise<User> {
  // Refuse what the caller's row alone rules out before writing anything.
  if (targetId !== caller.id && caller.role !== "admin") {
    await explainFailure(db, caller, targetId, uploadId);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    const [updated] = await conditionalUpdate(db, caller, targetId, uploadId);
    if (updated) return updated;
    await explainFailure(db, caller, targetId, uploadId);
    // Nothing explains the miss: the state changed between the write and the read. Try once more.
  }
  throw unavailable("The profile changed while it was being updated; try again.", 1);
}

function conditionalUpdate(db: Database, caller: User, targetId: string, uploadId: string | null) {
  const now = new Date();
  const mayEdit: SQL | undefined =
    targetId === caller.id
      ? eq(users.id, caller.id)
      : caller.role === "admin" && caller.organizationId !== null
        ? eq(users.organizationId, caller.organizationId)
        : sql`0`;
  const uploadUsable = uploadId
    ? exists(
        db
          .select({ one: sql`1` })
          .from(uploads)
          .where(
            and(
              eq(uploads.id, uploadId),
              eq(uploads.ownerId, caller.id),
              eq(uploads.scope, "profile_picture"),
              eq(uploads.kind, "image"),
              eq(uploads.state, "ready"),
            ),
          ),
      )
    : undefined;
  return db
    .update(users)
    .set({
      profilePictureUploadId: uploadId,
      updatedAt: sql`CASE WHEN ${users.profilePictureUploadId} IS ${uploadId} THEN ${users.updatedAt} ELSE ${now.getTime()} END`,
    })
    .where(and(eq(users.id, targetId), ne(users.state, "deleted"), mayEdit, uploadUsable))
    .returning();
}

/** Throw the error that explains why the conditional update matched nothing, in contract order. */
async function explainFailure(db: Database, caller: User, targetId: string, uploadId: string | null) {
  const [target, upload] = await Promise.all([
    targetId === caller.id ? caller : db.query.users.findFirst({ where: eq(users.id, targetId) }),
    uploadId ? findOwnUpload(db, caller, uploadId) : undefined,
  ]);
  if (!target || !canView(caller, target)) throw new ApiError(404, "user_not_found", "User not found.");
  if (!canEdit(caller, target)) {
    throw new ApiError(403, "forbidden", "You may not change this user's profile picture.");
  }
  if (uploadId === null) return;
  if (!upload) throw new ApiError(404, "upload_not_found", "Upload not found.");
  if (upload.scope !== "profile_picture") {
    throw new ApiError(422, "upload_wrong_scope", "The upload's scope is not profile_picture.");
  }
  if (upload.kind !== "image") throw new ApiError(422, "upload_wrong_kind", "The upload is not an image.");
  if (upload.state !== "ready") {
    throw new ApiError(409, "upload_not_ready", `The upload is ${upload.state}, not ready.`);
  }
}
