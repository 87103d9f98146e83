import type { Database } from "../../db/client";
import type { User } from "../../db/schema";
import type { AccessTokenClaims } from "../../identity/access-token";
import { type CallerInputs, resolveCaller } from "../../identity/caller";
import { type CallerAccess, findVisibleUser, tokenRole, type UserInRole } from "../../identity/memberships";
import { ApiError, retryAfter } from "../../lib/errors/api-error";
import { findOwnUpload } from "../uploads/own-upload";
import type { ProfileVersion } from "./profile-etag";
import {
  conditionalUpdate,
  type Findings,
  mayChange,
  type ProfilePictureChange,
  type ProfilePictureTarget,
  refusalFor,
} from "./profile-picture-rules";

/** What a PATCH wrote, and who the caller is when the request found out. */
export interface ProfilePictureUpdate {
  /** The target as written, in the role the response shows. */
  target: UserInRole;
  /** The caller's row: the row written when they acted on themself, or the one a miss resolved. */
  caller?: User;
}

/**
 * Set (`uploadId`) or remove (`null`) a custom profile picture on behalf of the token's user.
 *
 * D1 has no interactive transactions, so who the caller is, whether they may change the target,
 * whether the profile is still at a version `If-Match` names, whether the upload is theirs and
 * usable, and the write are ONE conditional statement built from the PATCH's rules
 * (`profilePictureRules`); the token's claims (subject, role, organization) are its parameters,
 * nothing is taken from an earlier token. Only when it matches nothing do we
 * resolve the caller (just-in-time provisioning, inactive accounts, recording the token's
 * membership), try once more, and read to explain the refusal with the first rule that fails.
 */
export async function updateProfilePicture(
  inputs: CallerInputs,
  target: ProfilePictureTarget,
  uploadId: string | null,
  ifMatch?: readonly ProfileVersion[],
): Promise<ProfilePictureUpdate> {
  const { db, claims } = inputs;
  const change: ProfilePictureChange = { claims, target, uploadId, ifMatch };
  const [updated] = await conditionalUpdate(db, change);
  if (updated) return written(updated, claims);

  const { user: caller, access } = await resolveCaller(inputs);
  const targetId = target === "caller" ? caller.id : target.userId;
  const explain = async () => {
    const refusal = refusalFor(await find(db, caller, access, targetId, uploadId), change);
    if (refusal) throw refusal;
  };
  // Refuse what the token alone rules out before writing anything.
  if (!mayChange(caller, access, targetId)) await explain();
  for (let attempt = 0; attempt < 2; attempt++) {
    const [retried] = await conditionalUpdate(db, change);
    if (retried) return { caller, ...written(retried, claims) };
    await explain();
    // Nothing explains the miss: the state changed between the write and the read. Try once more.
  }
  throw new ApiError(
    "unavailable",
    "The profile changed while it was being updated; try again.",
    retryAfter(1),
  );
}

/** The written row in the role the response shows (the statement read it): the token's for the caller, else the membership's. */
function written(
  { roleShown, ...user }: User & { roleShown: string | null },
  claims: AccessTokenClaims,
): ProfilePictureUpdate {
  const own = user.workosUserId === claims.sub;
  return {
    target: { user, role: roleShown ?? tokenRole(claims) },
    ...(own ? { caller: user } : {}),
  };
}

/** What the rules are checked on after a miss: the target as the caller may see them, and the caller's upload. */
async function find(
  db: Database,
  caller: User,
  access: CallerAccess,
  targetId: string,
  uploadId: string | null,
): Promise<Findings> {
  const [target, upload] = await Promise.all([
    findVisibleUser(db, caller, access, targetId),
    uploadId === null ? undefined : findOwnUpload(db, caller, uploadId),
  ]);
  return { caller, access, target, upload };
}
