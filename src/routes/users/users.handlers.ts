import type { Context } from "hono";
import { type ChangeOrigin, MAX_AUDIT_USER_AGENT_LENGTH } from "../../audit/outbox";
import type { AuditVia } from "../../db/schema";
import { requireVisibleUser, type UserInRole } from "../../identity/memberships";
import type { EntityTagCondition } from "../../lib/entity-tags";
import type { ThumbSize } from "../../lib/object-keys";
import { clientIp } from "../../lib/rate-limit";
import type { AppBindings, AppRouteHandler } from "../../lib/types";
import { receiveImage } from "./image-body";
import { listMembers } from "./members-list";
import { noneMatch, profileETag, versionOf, versionsNamedBy } from "./profile-etag";
import {
  type ProfilePictureUpdate,
  setProfilePictureFromImage,
  updateProfilePicture,
} from "./profile-picture";
import type { ProfilePictureTarget } from "./profile-picture-rules";
import { toUserProfile } from "./user-profile";
import type {
  getMe,
  getSharedUser,
  listSharedUsers,
  putMyProfilePicture,
  putUserProfilePicture,
  updateMyProfilePicture,
  updateUserProfilePicture,
} from "./users.routes";

/** The API's own origin, as the client reached it: where its initials avatars are served. */
const apiOriginOf = (c: Context<AppBindings>) => new URL(c.req.url).origin;

/** One profile in the size asked for, its `ETag` set on the answer: made from the body as sent. */
async function taggedProfile(c: Context<AppBindings>, inRole: UserInRole, pictureSize: ThumbSize) {
  const profile = await toUserProfile(inRole, c.var.config, pictureSize, apiOriginOf(c));
  const etag = await profileETag(versionOf(inRole), JSON.stringify(profile));
  c.header("ETag", etag);
  return { profile, etag };
}

/** A GET of one profile: `304` with no body (and the same `ETag`) when `If-None-Match` names its tag. */
async function answerRead(
  c: Context<AppBindings>,
  inRole: UserInRole,
  pictureSize: ThumbSize,
  ifNoneMatch: EntityTagCondition | undefined,
) {
  const { profile, etag } = await taggedProfile(c, inRole, pictureSize);
  if (ifNoneMatch !== undefined && !noneMatch(ifNoneMatch, etag)) return c.body(null, 304);
  return c.json(profile, 200);
}

export const getMeHandler: AppRouteHandler<typeof getMe> = async (c) =>
  answerRead(
    c,
    { user: c.var.caller, role: c.var.access.role },
    c.req.valid("query").pictureSize,
    c.req.valid("header")["if-none-match"],
  );

export const getSharedUserHandler: AppRouteHandler<typeof getSharedUser> = async (c) => {
  const { db, caller, access } = c.var;
  const target = await requireVisibleUser(db, caller, access, c.req.valid("param").user_id);
  return answerRead(c, target, c.req.valid("query").pictureSize, c.req.valid("header")["if-none-match"]);
};

export const listSharedUsersHandler: AppRouteHandler<typeof listSharedUsers> = async (c) => {
  const { db, config, claims, requestId, jobs } = c.var;
  const query = c.req.valid("query");
  const page = await listMembers({ db, config, claims, requestId, jobs }, query);
  if (page.caller) c.set("caller", page.caller);
  const apiOrigin = apiOriginOf(c);
  return c.json(
    {
      items: await Promise.all(
        page.members.map((member) => toUserProfile(member, config, query.pictureSize, apiOrigin)),
      ),
      nextCursor: page.nextCursor,
    },
    200,
  );
};

/** The versions an `If-Match` names; undefined without one, or for `*` (any current profile). */
const versionsOf = (ifMatch: EntityTagCondition | undefined) =>
  ifMatch === undefined || ifMatch === "*" ? undefined : versionsNamedBy(ifMatch);

/**
 * A write's answer: the profile as written, in the size asked for, with its new `ETag`. The change's
 * audit event goes to the queue once the answer is on its way (a failed send is the hourly job's).
 */
async function answerWrite(c: Context<AppBindings>, updated: ProfilePictureUpdate, pictureSize: ThumbSize) {
  if (updated.caller) c.set("caller", updated.caller);
  if (updated.auditEventId) {
    c.executionCtx.waitUntil(c.var.jobs.send([{ type: "audit_event", id: updated.auditEventId }]));
  }
  const { profile } = await taggedProfile(c, updated.target, pictureSize);
  return c.json(profile, 200);
}

/** Where the request came from, as the audit log records it. */
const originOf = (c: Context<AppBindings>, via: AuditVia): ChangeOrigin => ({
  location: clientIp(c),
  userAgent: c.req.header("user-agent")?.slice(0, MAX_AUDIT_USER_AGENT_LENGTH) || null,
  via,
});

/** The PATCH on `target`: the upload the body names, or none. */
function patchPicture(
  c: Context<AppBindings>,
  target: ProfilePictureTarget,
  uploadId: string | null,
  ifMatch: EntityTagCondition | undefined,
) {
  const { db, config, claims, requestId, jobs } = c.var;
  return updateProfilePicture(
    { db, config, claims, requestId, jobs },
    target,
    uploadId,
    originOf(c, "patch"),
    versionsOf(ifMatch),
  );
}

/** The one-call PUT on `target`: the image in the body, read once the caller may send it. */
function putPicture(
  c: Context<AppBindings>,
  target: ProfilePictureTarget,
  ifMatch: EntityTagCondition | undefined,
) {
  const { db, config, claims, requestId, jobs } = c.var;
  return setProfilePictureFromImage(
    { db, config, claims, requestId, jobs },
    { bucket: c.env.BUCKET, images: c.env.IMAGES },
    target,
    () => receiveImage(c.req.raw),
    originOf(c, "put"),
    versionsOf(ifMatch),
  );
}

export const updateMyProfilePictureHandler: AppRouteHandler<typeof updateMyProfilePicture> = async (c) => {
  const updated = await patchPicture(
    c,
    "caller",
    c.req.valid("json").uploadId,
    c.req.valid("header")["if-match"],
  );
  return answerWrite(c, updated, c.req.valid("query").pictureSize);
};

export const updateUserProfilePictureHandler: AppRouteHandler<typeof updateUserProfilePicture> = async (
  c,
) => {
  const target = { userId: c.req.valid("param").user_id };
  const updated = await patchPicture(
    c,
    target,
    c.req.valid("json").uploadId,
    c.req.valid("header")["if-match"],
  );
  return answerWrite(c, updated, c.req.valid("query").pictureSize);
};

export const putMyProfilePictureHandler: AppRouteHandler<typeof putMyProfilePicture> = async (c) => {
  const updated = await putPicture(c, "caller", c.req.valid("header")["if-match"]);
  return answerWrite(c, updated, c.req.valid("query").pictureSize);
};

export const putUserProfilePictureHandler: AppRouteHandler<typeof putUserProfilePicture> = async (c) => {
  const target = { userId: c.req.valid("param").user_id };
  const updated = await putPicture(c, target, c.req.valid("header")["if-match"]);
  return answerWrite(c, updated, c.req.valid("query").pictureSize);
};
