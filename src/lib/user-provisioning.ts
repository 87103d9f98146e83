import { and, eq, ne, or, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { type NewUser, type User, users } from "../db/schema";
import type { Config } from "./config";
import type { AccessTokenClaims } from "./types";
import { fetchWorkOSUser, type WorkOSUser } from "./workos-api";

/**
 * The columns WorkOS owns, from a WorkOS user object. The custom profile picture
 * (`profile_picture_upload_id`), role, organization and state are ours and never come from here.
 */
export function workosUserColumns(workosUser: WorkOSUser) {
  return {
    email: workosUser.email,
    emailVerified: workosUser.email_verified,
    firstName: workosUser.first_name ?? "",
    lastName: workosUser.last_name ?? "",
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
 * ignores a conflict on `workos_user_id` and whoever lost reads the winner's row.
 */
export async function provisionUser(
  db: Database,
  config: Config,
  claims: AccessTokenClaims,
): Promise<User | undefined> {
  const workosUser = await fetchWorkOSUser(config, claims.sub);
  if (!workosUser) return undefined;
  const [inserted] = await db
    .insert(users)
    .values({
      id: crypto.randomUUID(),
      workosUserId: claims.sub,
      ...workosUserColumns(workosUser),
      role: claims.role ?? "member",
      organizationId: claims.org_id ?? null,
      state: "active",
      createdAt: workosUser.created_at,
      updatedAt: new Date(),
    })
    .onConflictDoNothing({ target: users.workosUserId })
    .returning();
  return inserted ?? db.query.users.findFirst({ where: eq(users.workosUserId, claims.sub) });
}

/**
 * Make the stored role and organization follow the token. A claim that is absent leaves the stored
 * value alone: a session without an organization says nothing about the user's memberships, and
 * tokens minted without `role` would otherwise demote admins on every other request.
 *
 * Writes only when something differs (one conditional UPDATE), so a known user whose claims match
 * costs no write at all.
 */
export async function followTokenClaims(db: Database, user: User, claims: AccessTokenClaims): Promise<User> {
  const role = claims.role ?? user.role;
  const organizationId = claims.org_id ?? user.organizationId;
  if (role === user.role && organizationId === user.organizationId) return user;
  const [updated] = await db
    .update(users)
    .set({ role, organizationId, updatedAt: new Date() })
    .where(
      and(
        eq(users.id, user.id),
        ne(users.state, "deleted"),
        or(ne(users.role, role), sql`${users.organizationId} IS NOT ${organizationId}`),
      ),
    )
    .returning();
  // Matched nothing: a concurrent request already wrote these values, or the user was deleted.
  return updated ?? (await db.query.users.findFirst({ where: eq(users.id, user.id) })) ?? user;
}
