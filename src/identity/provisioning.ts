import { eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { type NewUser, type User, users } from "../db/schema";
import type { JobQueue } from "../jobs/messages";
import type { Config } from "../lib/config";
import type { AccessTokenClaims } from "./access-token";
import { fetchWorkOSUser, type WorkOSUser } from "./workos-api";

/**
 * How names and emails are compared in the members list: lower-cased with the whole of Unicode
 * ("Élodie" and "élodie" are one key), which SQLite's ASCII-only `lower()` cannot do.
 */
export const searchKey = (text: string) => text.toLowerCase();

/** The sort and search keys of a user's names and email, written with them. */
export function userKeys(user: { firstName: string; lastName: string; email: string }) {
  return {
    firstNameKey: searchKey(user.firstName),
    lastNameKey: searchKey(user.lastName),
    emailKey: searchKey(user.email),
  };
}

/**
 * The columns WorkOS owns, from a WorkOS user object (with their sort and search keys). The custom profile picture
 * (`profile_picture_upload_id`) and the state are ours and never come from here.
 */
export function workosUserColumns(workosUser: WorkOSUser) {
  const names = {
    email: workosUser.email,
    firstName: workosUser.first_name ?? "",
    lastName: workosUser.last_name ?? "",
  };
  return {
    ...names,
    ...userKeys(names),
    emailVerified: workosUser.email_verified,
    workosProfilePictureUrl: workosUser.profile_picture_url ?? null,
    lastLogin: workosUser.last_sign_in_at ?? null,
    workosUpdatedAt: workosUser.updated_at,
  } satisfies Partial<NewUser>;
}

/**
 * Just-in-time provisioning of a user WorkOS vouched for but D1 has not seen yet. Returns
 * `undefined` when WorkOS does not know the user; throws `WorkOSUnavailableError` when WorkOS
 * cannot answer, before anything is written.
 *
 * Two first requests (or a first request and a `user.created` webhook) can race: the insert
 * ignores a conflict on `workos_user_id` and whoever lost reads the winner's row. A WorkOS id that
 * was deleted has a row already (state `deleted`, see the `user.deleted` webhook), so it is never
 * provisioned again. Memberships recorded before the user existed pick the new row up by trigger.
 * The new user's WorkOS picture is then enqueued for import (their avatar is initials until it is in).
 */
export async function provisionUser(
  db: Database,
  config: Config,
  claims: AccessTokenClaims,
  jobs: JobQueue,
): Promise<User | undefined> {
  const workosUser = await fetchWorkOSUser(config, claims.sub);
  if (!workosUser) return undefined;
  const [inserted] = await db
    .insert(users)
    .values({
      id: crypto.randomUUID(),
      workosUserId: claims.sub,
      ...workosUserColumns(workosUser),
      state: "active",
      createdAt: workosUser.created_at,
      updatedAt: new Date(),
    })
    .onConflictDoNothing({ target: users.workosUserId })
    .returning();
  if (!inserted) return db.query.users.findFirst({ where: eq(users.workosUserId, claims.sub) });
  // Whoever inserted the row asks for its picture's import; the hourly job catches a failed send.
  if (inserted.workosProfilePictureUrl) {
    await jobs.send([
      { type: "import_picture", workosUserId: claims.sub, url: inserted.workosProfilePictureUrl },
    ]);
  }
  return inserted;
}
