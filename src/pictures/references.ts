import { and, eq, notExists, type SQL, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Database } from "../db/client";
import { uploads, users } from "../db/schema";

/**
 * In a statement on `uploads`: no user shows this upload, neither as their custom photo nor as their
 * imported WorkOS picture, each an indexed probe of `users`. Whatever deletes an upload says this in
 * the same statement, so a photo in use is never deleted, whoever owns it.
 */
export const unreferenced = (db: Database): SQL => {
  const noUserShows = (column: SQLiteColumn) =>
    notExists(db.select({ one: sql`1` }).from(users).where(eq(column, uploads.id)));
  return and(noUserShows(users.profilePictureUploadId), noUserShows(users.importedPictureUploadId)) as SQL;
};
