import { and, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { type Upload, type User, uploads } from "../db/schema";
import { ApiError } from "../lib/errors/api-error";

/** The caller's upload with this id; another user's upload is as absent as one that never was. */
export async function findOwnUpload(
  db: Database,
  caller: User,
  uploadId: string,
): Promise<Upload | undefined> {
  return ownUploadById(db, caller.id, uploadId);
}

/** The statement behind `findOwnUpload`. */
export const ownUploadById = (db: Database, ownerId: string, uploadId: string) =>
  db.query.uploads.findFirst({ where: and(eq(uploads.id, uploadId), eq(uploads.ownerId, ownerId)) });

/** `findOwnUpload`, or 404 `upload_not_found`. */
export async function requireOwnUpload(db: Database, caller: User, uploadId: string): Promise<Upload> {
  const upload = await findOwnUpload(db, caller, uploadId);
  if (!upload) throw new ApiError("upload_not_found");
  return upload;
}
