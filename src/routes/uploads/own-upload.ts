import { and, eq } from "drizzle-orm";
import type { Database } from "../../db/client";
import { type Upload, type User, uploads } from "../../db/schema";
import { ApiError } from "../../lib/errors/api-error";

/** The caller's upload with this id; another user's upload is as absent as one that never was. */
export function findOwnUpload(db: Database, caller: User, uploadId: string): Promise<Upload | undefined> {
  return db.query.uploads.findFirst({ where: and(eq(uploads.id, uploadId), eq(uploads.ownerId, caller.id)) });
}

/** `findOwnUpload`, or 404 `upload_not_found`. */
export async function requireOwnUpload(db: Database, caller: User, uploadId: string): Promise<Upload> {
  const upload = await findOwnUpload(db, caller, uploadId);
  if (!upload) throw new ApiError("upload_not_found");
  return upload;
}
