import { and, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { type Upload, type User, uploads } from "../db/schema";
import { ApiError } from "../lib/errors/api-error";

/**
 * The caller's upload with this id, as the upload API and the PATCH see it: another user's upload is
 * as absent as one that never was, and so is an import of the caller's WorkOS picture, which is the
 * service's own (`origin`), never a client's to read, complete or attach.
 */
export async function findOwnUpload(
  db: Database,
  caller: User,
  uploadId: string,
): Promise<Upload | undefined> {
  return ownUploadById(db, caller.id, uploadId);
}

/** The statement behind `findOwnUpload`. */
export const ownUploadById = (db: Database, ownerId: string, uploadId: string) =>
  db.query.uploads.findFirst({
    where: and(eq(uploads.id, uploadId), eq(uploads.ownerId, ownerId), eq(uploads.origin, "upload")),
  });

/** `findOwnUpload`, or 404 `upload_not_found`. */
export async function requireOwnUpload(db: Database, caller: User, uploadId: string): Promise<Upload> {
  const upload = await findOwnUpload(db, caller, uploadId);
  if (!upload) throw new ApiError("upload_not_found");
  return upload;
}

/** An upload of `owner`'s by id, whatever its origin: the service's own reads of what it just wrote. */
export const uploadOf = (db: Database, owner: User, uploadId: string) =>
  db.query.uploads.findFirst({ where: and(eq(uploads.id, uploadId), eq(uploads.ownerId, owner.id)) });
