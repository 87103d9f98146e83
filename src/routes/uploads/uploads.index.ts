import { createRouter } from "../../lib/create-app";
import * as handlers from "./uploads.handlers";
import * as routes from "./uploads.routes";

export const uploadsRouter = createRouter()
  .openapi(routes.createUpload, handlers.createUploadHandler)
  .openapi(routes.completeUpload, handlers.completeUploadHandler)
  .openapi(routes.getUpload, handlers.getUploadHandler);
