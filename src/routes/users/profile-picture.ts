import { and, eq, exists, ne, type SQL, sql } from "drizzle-orm";
import { type AnySQLiteColumn, alias } from "drizzle-orm/sqlite-core";
import type { Database } from "../../db/client";
import { type User, uploads, users } from "../../db/schema";
import { ApiError, unavailable, uploadNotFound } from "../../lib/errors";
import type { AccessTokenClaims } from "../../lib/types";
import { findOwnUpload } from "../uploads/own-upload";
import { canEdit, findVisibleUser } from "./user-profile";

/** Whose picture: the caller's own (`/users/me`), or a user's by id (`/shared/users/{id}`). */
export type ProfilePictureTarget = "caller" | { userId: string };

/**
 * Set (`uploadId`) or remove (`null`) a custom profile picture on behalf of the token's user.
 *
 * D1 has no interactive transactions, so who the caller is, whether they may edit the target,
 * whether the upload is theirs and usable, and the write are ONE conditional statement
 * (`UPDATE ... WHERE ... AND EXISTS (...) RETURNING`): an upload or a permission that changes
 * between check and write can never slip through, and the happy path is one D1 round trip.
 * Only when it matches nothing do we resolve the caller (just-in-time provisioning, inactive
 * accounts and role or organization changes from the token are handled there), try once more, and
 * read to explain the refusal. Setting the photo already set, or removing when none is set,
 * matches and changes nothing (`updated_at` keeps its value).
 */
export async function updateProfilePicture(
  db: Database,
  claims: AccessTokenClaims,
  target: ProfilePictureTarget,
  uploadId: string | null,
  resolveCaller: () => Promise<User>,
): Promise<User> {
  const [updated] = await conditionalUpdate(db, claims, target, uploadId);
  if (updated) return updated;

  const caller = await resolveCaller();
  const targetId = target === "caller" ? caller.id : target.userId;
  // Refuse what the caller's row alone rules out before writing anything.
  if (targetId !== caller.id && caller.role !== "admin") await explainFailure(db, caller, targetId, uploadId);
  for (let attempt = 0; attempt < 2; attempt++) {
    const [retried] = await conditionalUpdate(db, claims, target, uploadId);
    if (retried) return retried;
    await explainFailure(db, caller, targetId, uploadId);
    // Nothing explains the miss: the state changed between the write and the read. Try once more.
  }
  throw unavailable("The profile changed while it was being updated; try again.", 1);
}

type CallerColumns = Record<"workosUserId" | "state" | "role" | "organizationId", AnySQLiteColumn>;

/**
 * The caller as the statement sees it: the token's user, active, with the role and organization
 * the token claims (a mismatch is settled by `resolveCaller`, which makes the row follow the token).
 */
function isTokenCaller(row: CallerColumns, claims: AccessTokenClaims): SQL {
  return and(
    eq(row.workosUserId, claims.sub),
    eq(row.state, "active"),
    claims.role === undefined ? undefined : eq(row.role, claims.role),
    claims.org_id === undefined ? undefined : eq(row.organizationId, claims.org_id),
  ) as SQL;
}

function conditionalUpdate(
  db: Database,
  claims: AccessTokenClaims,
  target: ProfilePictureTarget,
  uploadId: string | null,
) {
  const caller = alias(users, "caller");
  const owner = alias(users, "owner");
  const mayEdit =
    target === "caller"
      ? isTokenCaller(users, claims)
      : and(
          eq(users.id, target.userId),
          ne(users.state, "deleted"),
          exists(
            db
              .select({ one: sql`1` })
              .from(caller)
              .where(
                and(
                  isTokenCaller(caller, claims),
                  sql`(${caller.id} = ${users.id} OR (${caller.role} = 'admin' AND ${caller.organizationId} = ${users.organizationId}))`,
                ),
              ),
          ),
        );
  // The upload must be the caller's own, also when an admin acts for someone else.
  const uploadUsable =
    uploadId === null
      ? undefined
      : exists(
          db
            .select({ one: sql`1` })
            .from(uploads)
            .innerJoin(owner, eq(owner.id, uploads.ownerId))
            .where(
              and(
                eq(uploads.id, uploadId),
                eq(owner.workosUserId, claims.sub),
                eq(uploads.scope, "profile_picture"),
                eq(uploads.kind, "image"),
                eq(uploads.state, "ready"),
              ),
            ),
        );
  return db
    .update(users)
    .set({
      profilePictureUploadId: uploadId,
      updatedAt: sql`CASE WHEN ${users.profilePictureUploadId} IS ${uploadId} THEN ${users.updatedAt} ELSE ${Date.now()} END`,
    })
    .where(and(mayEdit, uploadUsable))
    .returning();
}

/** Throw the error that explains why the conditional update matched nothing, in contract order. */
async function explainFailure(db: Database, caller: User, targetId: string, uploadId: string | null) {
  // Both reads at once; only the target lookup throws, so its 404 precedes any upload error.
  const [target, upload] = await Promise.all([
    findVisibleUser(db, caller, targetId),
    uploadId ? findOwnUpload(db, caller, uploadId) : undefined,
  ]);
  if (!canEdit(caller, target)) {
    throw new ApiError(403, "forbidden", "You may not change this user's profile picture.");
  }
  if (uploadId === null) return;
  if (!upload) throw uploadNotFound();
  if (upload.scope !== "profile_picture") {
    throw new ApiError(422, "upload_wrong_scope", "The upload's scope is not profile_picture.");
  }
  if (upload.kind !== "image") throw new ApiError(422, "upload_wrong_kind", "The upload is not an image.");
  if (upload.state !== "ready") {
    throw new ApiError(409, "upload_not_ready", `The upload is ${upload.state}, not ready.`);
  }
}
