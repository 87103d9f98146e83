import { createRouter } from "../../lib/create-app";
import { getInitialsImageHandler } from "./avatars.handlers";
import { getInitialsImage } from "./avatars.routes";

export const avatarsRouter = createRouter().openapi(getInitialsImage, getInitialsImageHandler);
