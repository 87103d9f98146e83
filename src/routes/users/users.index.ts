import { createRouter } from "../../lib/create-app";
import * as handlers from "./users.handlers";
import * as routes from "./users.routes";

export const usersRouter = createRouter()
  .openapi(routes.getMe, handlers.getMeHandler)
  .openapi(routes.listSharedUsers, handlers.listSharedUsersHandler)
  .openapi(routes.getSharedUser, handlers.getSharedUserHandler)
  .openapi(routes.updateMyProfilePicture, handlers.updateMyProfilePictureHandler)
  .openapi(routes.updateUserProfilePicture, handlers.updateUserProfilePictureHandler)
  .openapi(routes.putMyProfilePicture, handlers.putMyProfilePictureHandler)
  .openapi(routes.putUserProfilePicture, handlers.putUserProfilePictureHandler);
