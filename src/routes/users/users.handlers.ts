import { resolveCaller } from "../../lib/auth";
import type { AppRouteHandler } from "../../lib/types";
import { updateProfilePicture } from "./profile-picture";
import { findVisibleUser, toUserProfile } from "./user-profile";
import type { getMe, getSharedUser, updateMyProfilePicture, updateUserProfilePicture } from "./users.routes";

export const getMeHandler: AppRouteHandler<typeof getMe> = async (c) =>
  c.json(await toUserProfile(c.var.caller, c.var.config), 200);

export const getSharedUserHandler: AppRouteHandler<typeof getSharedUser> = async (c) => {
  const target = await findVisibleUser(c.var.db, c.var.caller, c.req.valid("param").user_id);
  return c.json(await toUserProfile(target, c.var.config), 200);
};

export const updateMyProfilePictureHandler: AppRouteHandler<typeof updateMyProfilePicture> = async (c) => {
  const { claims, db, config } = c.var;
  const uploadId = c.req.valid("json").uploadId;
  const user = await updateProfilePicture(db, claims, "caller", uploadId, () => resolveCaller(c));
  c.set("caller", user);
  return c.json(await toUserProfile(user, config), 200);
};

export const updateUserProfilePictureHandler: AppRouteHandler<typeof updateUserProfilePicture> = async (
  c,
) => {
  const { claims, db, config } = c.var;
  const target = { userId: c.req.valid("param").user_id };
  const uploadId = c.req.valid("json").uploadId;
  const user = await updateProfilePicture(db, claims, target, uploadId, () => resolveCaller(c));
  return c.json(await toUserProfile(user, config), 200);
};
