import { type AuditedChange, type ChangeOrigin, recordAuditEvent } from "../../audit/outbox";
import type { Database } from "../../db/client";
import type { User } from "../../db/schema";
import type { AccessTokenClaims } from "../../identity/access-token";
import { type CallerInputs, type ResolvedCaller, resolveCaller } from "../../identity/caller";
import { type CallerAccess, findVisibleUser, tokenRole, type UserInRole } from "../../identity/memberships";
import { ApiError, retryAfter } from "../../lib/errors/api-error";
import { findOwnUpload } from "../../pictures/own-upload";
import { discardUpload, type ReceivedImage, storeImage } from "../../pictures/store-image";
import type { ProfileVersion } from "./profile-etag";
import {
  conditionalUpdate,
  type Findings,
  mayChange,
  type ProfilePictureChange,
  type ProfilePictureTarget,
  refusalFor,
  wroteIt,
} from "./profile-picture-rules";

/** What a PATCH wrote, and who the caller is when the request found out. */
export interface ProfilePictureUpdate {
  /** The target as written, in the role the response shows. */
  target: UserInRole;
  /** The caller's row: the row written when they acted on themself, or the one a miss resolved. */
  caller?: User;
  /** The audit event the change wrote, for the queue (`audit_event`); none when nothing changed. */
  auditEventId?: string;
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
  origin: ChangeOrigin,
  ifMatch?: readonly ProfileVersion[],
): Promise<ProfilePictureUpdate> {
  const { db, claims } = inputs;
  const writeId = crypto.randomUUID();
  const change: ProfilePictureChange = { claims, target, uploadId, ifMatch, writeId };
  const audited = auditedChange(change, origin, writeId);
  const write = () => writeChange(db, change, audited);
  const [updated] = await write();
  if (updated) return written(updated, claims, audited);

  // Resolved now, also when the request did before (the one-call PUT): the explanation must judge
  // the rows as they are after the miss, the caller's own included.
  const caller = await resolveCaller(inputs);
  // Refuse what the token alone rules out before writing anything.
  if (!mayChange(caller.user, caller.access, targetIdOf(caller, target))) {
    await refuseIfAny(db, caller, change);
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    const [retried] = await write();
    if (retried) return { caller: caller.user, ...written(retried, claims, audited) };
    const findings = await findFor(db, caller, change);
    // The miss is this request's own write, committed though its reply was lost: it was written,
    // and its audit event with it.
    if (wroteIt(findings, change) && findings.target) {
      return {
        caller: caller.user,
        target: findings.target,
        ...(audited ? { auditEventId: audited.writeId } : {}),
      };
    }
    const refusal = refusalFor(findings, change);
    if (refusal) throw refusal;
    // Nothing explains the miss: the state changed between the write and the read. Try once more.
  }
  throw new ApiError(
    "unavailable",
    "The profile changed while it was being updated; try again.",
    retryAfter(1),
  );
}

/** Where the one-call PUT stores and checks the image. */
export interface ImageStorage {
  bucket: R2Bucket;
  images: ImagesBinding;
}

/**
 * The one-call PUT: the image in the request's body becomes the target's custom profile picture,
 * all or nothing. Who may act on whom and `If-Match` are checked first, by the PATCH's rules,
 * before the body is read or a byte stored. Then the body becomes an upload of
 * the caller's, checked and thumbnailed by `complete`'s own code (`storeImage`), and the
 * PATCH's one conditional statement attaches it (`updateProfilePicture`), judging every rule again
 * as it writes: a profile changed meanwhile is `412`, nothing attached. An upload that ends up
 * unattached, whatever the reason, is deleted with its objects before the error goes on: the
 * request failed, so it writes nothing, and its client, which never learnt the upload's id, sends
 * the bytes again.
 *
 * `receive` reads the body (`receiveImage`); it is called once the caller may send it.
 */
export async function setProfilePictureFromImage(
  inputs: CallerInputs,
  storage: ImageStorage,
  target: ProfilePictureTarget,
  receive: () => Promise<ReceivedImage>,
  origin: ChangeOrigin,
  ifMatch?: readonly ProfileVersion[],
): Promise<ProfilePictureUpdate & { caller: User }> {
  // Who may act on whom and `If-Match`, before a byte is stored; the upload's rules are left to
  // the statement that attaches it (the upload is made here, the caller's own and ready).
  const resolved = await resolveCaller(inputs);
  await refuseIfAny(inputs.db, resolved, { claims: inputs.claims, target, uploadId: null, ifMatch });
  const caller = resolved.user;
  const deps = { db: inputs.db, thumbUrlTtlSeconds: inputs.config.thumbUrlTtlSeconds, ...storage };
  const upload = await storeImage(deps, caller, await receive(), inputs.requestId);
  try {
    const updated = await updateProfilePicture(inputs, target, upload.id, origin, ifMatch);
    return { ...updated, caller: updated.caller ?? caller };
  } catch (error) {
    await discardUpload(deps, upload.id, inputs.requestId);
    throw error;
  }
}

const targetIdOf = ({ user }: ResolvedCaller, target: ProfilePictureTarget) =>
  target === "caller" ? user.id : target.userId;

/** What the change's rules are judged on: the rows as they are now. */
const findFor = (db: Database, caller: ResolvedCaller, change: ProfilePictureChange) =>
  find(db, caller.user, caller.access, targetIdOf(caller, change.target), change.uploadId);

/** Throws the refusal of the first of the change's rules that fails on the rows as they are now. */
async function refuseIfAny(db: Database, caller: ResolvedCaller, change: ProfilePictureChange) {
  const refusal = refusalFor(await findFor(db, caller, change), change);
  if (refusal) throw refusal;
}

/**
 * The change as its organization's audit log records it; none under a token without an
 * organization (there is no log to record it in).
 */
function auditedChange(
  { claims, target }: ProfilePictureChange,
  origin: ChangeOrigin,
  writeId: string,
): AuditedChange | undefined {
  if (claims.org_id === undefined) return undefined;
  return {
    writeId,
    organizationId: claims.org_id,
    actorWorkosUserId: claims.sub,
    target: target === "caller" ? { workosUserId: claims.sub } : { userId: target.userId },
    ...origin,
  };
}

/**
 * The change's one statement, and with it, in the same batch (one D1 round trip, one transaction),
 * its audit event, which the batch writes only if the statement changed the photo.
 */
async function writeChange(db: Database, change: ProfilePictureChange, audited: AuditedChange | undefined) {
  if (!audited) return conditionalUpdate(db, change);
  const [updated] = await db.batch([
    conditionalUpdate(db, change),
    recordAuditEvent(db, audited, new Date()),
  ]);
  return updated;
}

/** The written row in the role the response shows (the statement read it): the token's for the caller, else the membership's. */
function written(
  { roleShown, ...user }: User & { roleShown: string | null },
  claims: AccessTokenClaims,
  audited: AuditedChange | undefined,
): ProfilePictureUpdate {
  const own = user.workosUserId === claims.sub;
  // The write id on the row is this change's only when it changed the photo (a no-op keeps the last one's).
  const changed = audited !== undefined && user.profilePictureWriteId === audited.writeId;
  return {
    target: { user, role: roleShown ?? tokenRole(claims) },
    ...(own ? { caller: user } : {}),
    ...(changed ? { auditEventId: audited.writeId } : {}),
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
