import { requireVisibleUser } from "../../identity/memberships";
import type { AppRouteHandler } from "../../lib/types";
import { listMembers } from "./members-list";
import { updateProfilePicture } from "./profile-picture";
import { toUserProfile } from "./user-profile";
import type {
  getMe,
  getSharedUser,
  listSharedUsers,
  updateMyProfilePicture,
  updateUserProfilePicture,
} from "./users.routes";

export const getMeHandler: AppRouteHandler<typeof getMe> = async (c) =>
  c.json(
    await toUserProfile(
      { user: c.var.caller, role: c.var.access.role },
      c.var.config,
      c.req.valid("query").pictureSize,
    ),
    200,
  );

export const getSharedUserHandler: AppRouteHandler<typeof getSharedUser> = async (c) => {
  const { db, caller, access, config } = c.var;
  const target = await requireVisibleUser(db, caller, access, c.req.valid("param").user_id);
  return c.json(await toUserProfile(target, config, c.req.valid("query").pictureSize), 200);
};

export const listSharedUsersHandler: AppRouteHandler<typeof listSharedUsers> = async (c) => {
  const { db, config, claims, requestId } = c.var;
  const query = c.req.valid("query");
  const page = await listMembers({ db, config, claims, requestId }, query);
  if (page.caller) c.set("caller", page.caller);
  return c.json(
    {
      items: await Promise.all(
        page.members.map((member) => toUserProfile(member, config, query.pictureSize)),
      ),
      nextCursor: page.nextCursor,
    },
    200,
  );
};

export const updateMyProfilePictureHandler: AppRouteHandler<typeof updateMyProfilePicture> = async (c) => {
  const { db, config, claims, requestId } = c.var;
  const uploadId = c.req.valid("json").uploadId;
  const updated = await updateProfilePicture({ db, config, claims, requestId }, "caller", uploadId);
  if (updated.caller) c.set("caller", updated.caller);
  return c.json(await toUserProfile(updated.target, config, c.req.valid("query").pictureSize), 200);
};

export const updateUserProfilePictureHandler: AppRouteHandler<typeof updateUserProfilePicture> = async (
  c,
) => {
  const { db, config, claims, requestId } = c.var;
  const target = { userId: c.req.valid("param").user_id };
  const uploadId = c.req.valid("json").uploadId;
  const updated = await updateProfilePicture({ db, config, claims, requestId }, target, uploadId);
  if (updated.caller) c.set("caller", updated.caller);
  return c.json(await toUserProfile(updated.target, config, c.req.valid("query").pictureSize), 200);
};
