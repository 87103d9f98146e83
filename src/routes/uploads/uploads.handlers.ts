import type { AppRouteHandler } from "../../lib/types";
import { requireOwnUpload } from "../../pictures/own-upload";
import { settleUpload } from "../../pictures/settle-upload";
import { startUpload } from "./start-upload";
import { toUploadJson } from "./upload-json";
import type { completeUpload as completeRoute, createUpload, getUpload } from "./uploads.routes";

export const createUploadHandler: AppRouteHandler<typeof createUpload> = async (c) => {
  const { db, config, caller } = c.var;
  const started = await startUpload(db, config, caller, c.req.valid("json"));
  return c.json({ ...started, upload: await toUploadJson(started.upload, config) }, 201);
};

export const completeUploadHandler: AppRouteHandler<typeof completeRoute> = async (c) => {
  const { db, config, caller } = c.var;
  const upload = await requireOwnUpload(db, caller, c.req.valid("param").upload_id);
  const storage = {
    db,
    bucket: c.env.BUCKET,
    images: c.env.IMAGES,
    thumbUrlTtlSeconds: config.thumbUrlTtlSeconds,
  };
  const completed = await settleUpload(storage, upload);
  return c.json(await toUploadJson(completed, config), 200);
};

export const getUploadHandler: AppRouteHandler<typeof getUpload> = async (c) => {
  const { db, config, caller } = c.var;
  const upload = await requireOwnUpload(db, caller, c.req.valid("param").upload_id);
  return c.json(await toUploadJson(upload, config), 200);
};
