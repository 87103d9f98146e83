import { and, eq, exists, getTableColumns, ne, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { Database } from "../../db/client";
import { type User, uploads, users } from "../../db/schema";
import type { AccessTokenClaims } from "../../identity/access-token";
import { type CallerInputs, resolveCaller } from "../../identity/caller";
import {
  type CallerAccess,
  findVisibleUser,
  isActiveMember,
  tokenRole,
  type UserInRole,
} from "../../identity/memberships";
import { ApiError, retryAfter } from "../../lib/errors/api-error";
import { findOwnUpload } from "../uploads/own-upload";
import { canEdit } from "./user-profile";

/** Whose picture: the caller's own (`/users/me`), or a user's by id (`/shared/users/{id}`). */
export type ProfilePictureTarget = "caller" | { userId: string };

/**
 * Set (`uploadId`) or remove (`null`) a custom profile picture on behalf of the token's user.
 *
 * D1 has no interactive transactions, so who the caller is, whether they may edit the target,
 * whether the upload is theirs and usable, and the write are ONE conditional statement
 * (`UPDATE ... WHERE ... AND EXISTS (...) RETURNING`): an upload or a membership that changes
 * between check and write can never slip through, and the happy path is one D1 round trip. The
 * token's claims (subject, role, organization) are parameters of that statement; nothing is taken
 * from an earlier token. Only when it matches nothing do we resolve the caller (just-in-time
 * provisioning, inactive accounts, recording the token's membership), try once more, and read to
 * explain the refusal. Setting the photo already set, or removing when none is set, matches and
 * changes nothing (`updated_at` keeps its value).
 */
export async function updateProfilePicture(
  inputs: CallerInputs,
  target: ProfilePictureTarget,
  uploadId: string | null,
): Promise<ProfilePictureUpdate> {
  const { db, claims } = inputs;
  const [updated] = await conditionalUpdate(db, claims, target, uploadId);
  if (updated) return written(updated, claims);

  const { user: caller, access } = await resolveCaller(inputs);
  const targetId = target === "caller" ? caller.id : target.userId;
  // Refuse what the token alone rules out before writing anything.
  if (targetId !== caller.id && access.role !== "admin") {
    await explainFailure(db, caller, access, targetId, uploadId);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    const [retried] = await conditionalUpdate(db, claims, target, uploadId);
    if (retried) return { caller, ...written(retried, claims) };
    await explainFailure(db, caller, access, targetId, uploadId);
    // Nothing explains the miss: the state changed between the write and the read. Try once more.
  }
  throw new ApiError(
    "unavailable",
    "The profile changed while it was being updated; try again.",
    retryAfter(1),
  );
}

/** What a PATCH wrote, and who the caller is when the request found out. */
export interface ProfilePictureUpdate {
  /** The target as written, in the role the response shows. */
  target: UserInRole;
  /** The caller's row: the row written when they acted on themself, or the one a miss resolved. */
  caller?: User;
}

/** The written row in the role the response shows: the token's for the caller, else the membership's. */
function written(
  { teammateRole, ...user }: User & { teammateRole: string | null },
  claims: AccessTokenClaims,
): ProfilePictureUpdate {
  const own = user.workosUserId === claims.sub;
  return {
    target: { user, role: own ? tokenRole(claims) : (teammateRole ?? tokenRole(claims)) },
    ...(own ? { caller: user } : {}),
  };
}

/**
 * The one statement. The target is the token's own user, active; or, by id, a user who is not
 * deleted and is either the token's user or, for a token with role `admin`, a teammate: an active
 * member of the token's organization, of which the caller is an active member too (so a removed
 * admin's still-valid token acts on no one there).
 */
export function conditionalUpdate(
  db: Database,
  claims: AccessTokenClaims,
  target: ProfilePictureTarget,
  uploadId: string | null,
) {
  const caller = alias(users, "caller");
  const owner = alias(users, "owner");
  const organizationId = claims.org_id ?? null;
  const isTeammate =
    tokenRole(claims) === "admin" && organizationId !== null
      ? and(
          isActiveMember(db, users.workosUserId, organizationId),
          isActiveMember(db, claims.sub, organizationId),
        )
      : undefined;
  const mayEdit =
    target === "caller"
      ? and(eq(users.workosUserId, claims.sub), eq(users.state, "active"))
      : and(
          eq(users.id, target.userId),
          ne(users.state, "deleted"),
          exists(
            db
              .select({ one: sql`1` })
              .from(caller)
              .where(
                and(
                  eq(caller.workosUserId, claims.sub),
                  eq(caller.state, "active"),
                  isTeammate ? sql`(${caller.id} = ${users.id} OR ${isTeammate})` : eq(caller.id, users.id),
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
    .returning({
      ...getTableColumns(users),
      // The target's role in the token's organization, for the response: no second round trip.
      // Written out by hand: in RETURNING, Drizzle leaves column names unqualified, and the
      // subquery's own `workos_user_id` would shadow the updated row's.
      teammateRole: sql<string | null>`(SELECT "role" FROM "memberships" AS "target_membership"
        WHERE "target_membership"."workos_user_id" = "users"."workos_user_id"
          AND "target_membership"."organization_id" = ${organizationId})`,
    });
}

/** Throw the error that explains why the conditional update matched nothing, in contract order. */
async function explainFailure(
  db: Database,
  caller: User,
  access: CallerAccess,
  targetId: string,
  uploadId: string | null,
) {
  // Both reads at once; only the target lookup throws, so its 404 precedes any upload error.
  const [target, upload] = await Promise.all([
    findVisibleUser(db, caller, access, targetId),
    uploadId ? findOwnUpload(db, caller, uploadId) : undefined,
  ]);
  if (!canEdit(caller, access, target.user)) {
    throw new ApiError("forbidden", "You may not change this user's profile picture.");
  }
  if (uploadId === null) return;
  if (!upload) throw new ApiError("upload_not_found");
  if (upload.scope !== "profile_picture") {
    throw new ApiError("upload_wrong_scope", "The upload's scope is not profile_picture.");
  }
  if (upload.kind !== "image") throw new ApiError("upload_wrong_kind", "The upload is not an image.");
  if (upload.state !== "ready") {
    throw new ApiError("upload_not_ready", `The upload is ${upload.state}, not ready.`);
  }
}
