import type { Upload } from "../../db/schema";
import type { Config } from "../../lib/config";
import { presignThumbUrl } from "../../lib/presign";
import type { Upload as UploadJson } from "./uploads.schemas";

/** The wire shape of an upload; a ready image carries a presigned URL of its thumbnail. */
export async function toUploadJson(upload: Upload, config: Config): Promise<(typeof UploadJson)["_output"]> {
  return {
    id: upload.id,
    kind: upload.kind,
    scope: upload.scope,
    state: upload.state,
    contentType: upload.contentType,
    size: upload.size,
    filename: upload.filename,
    createdAt: upload.createdAt.toISOString(),
    failureReason: upload.state === "failed" ? upload.failureReason : null,
    thumbUrl:
      upload.state === "ready" && upload.thumbKey ? await presignThumbUrl(config, upload.thumbKey) : null,
  };
}
