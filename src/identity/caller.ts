import { and, eq, getTableColumns, type SQL } from "drizzle-orm";
import type { AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Database } from "../db/client";
import { memberships, type User, users } from "../db/schema";
import type { JobQueue } from "../jobs/messages";
import type { Config } from "../lib/config";
import { ApiError, retryAfter } from "../lib/errors/api-error";
import { type AccessTokenClaims, unauthenticated } from "./access-token";
import { type CallerAccess, type StoredMembership, settleAccess } from "./memberships";
import { provisionUser } from "./provisioning";
import { WorkOSUnavailableError } from "./workos-api";

/** What resolving a request's caller takes: its database, configuration, verified token, and its id for the log. */
export interface CallerInputs {
  db: Database;
  config: Config;
  claims: AccessTokenClaims;
  requestId: string;
  /** Where provisioning enqueues the import of the new user's WorkOS picture. */
  jobs: JobQueue;
}

/** The active user a token belongs to, and what the token lets them do. */
export interface ResolvedCaller {
  user: User;
  access: CallerAccess;
}

/**
 * The caller's user row for the verified token, and what the token lets them do: 403
 * `user_inactive` for an account that is not active, 401 for a deleted one.
 *
 * A known user whose membership of the token's organization is recorded as the token says costs
 * one D1 read (the user row with that membership) and nothing else. Otherwise the membership is
 * recorded (one conditional write, see `settleAccess`). A user D1 has not seen yet is provisioned
 * from the WorkOS API (401 when WorkOS does not know them, 503 when WorkOS cannot answer, nothing
 * written either way).
 */
export async function resolveCaller({
  db,
  config,
  claims,
  requestId,
  jobs,
}: CallerInputs): Promise<ResolvedCaller> {
  const known = await findCallerWithMembership(db, claims);
  const user = known?.user ?? (await provisionOrRefuse(db, config, claims, requestId, jobs));
  assertActive(user);
  const access = await settleAccess(db, claims, known ? known.membership : undefined);
  return { user, access };
}

/** The token's user with their membership of the token's organization, in one read. */
async function findCallerWithMembership(
  db: Database,
  claims: AccessTokenClaims,
): Promise<{ user: User; membership: StoredMembership | null } | undefined> {
  if (claims.org_id === undefined) {
    const user = await db.query.users.findFirst({ where: eq(users.workosUserId, claims.sub) });
    return user && { user, membership: null };
  }
  const [row] = await callerWithMembership(db, claims.sub, claims.org_id);
  return row;
}

/** The statement behind `findCallerWithMembership` for a token that names an organization. */
export function callerWithMembership(db: Database, sub: string, organizationId: string) {
  return db
    .select({
      user: getTableColumns(users),
      membership: { state: memberships.state, role: memberships.role, changedAt: memberships.changedAt },
    })
    .from(users)
    .leftJoin(
      memberships,
      and(eq(memberships.workosUserId, users.workosUserId), eq(memberships.organizationId, organizationId)),
    )
    .where(eq(users.workosUserId, sub))
    .limit(1);
}

async function provisionOrRefuse(
  db: Database,
  config: Config,
  claims: AccessTokenClaims,
  requestId: string,
  jobs: JobQueue,
): Promise<User> {
  try {
    const user = await provisionUser(db, config, claims, jobs);
    if (!user) throw unauthenticated();
    return user;
  } catch (error) {
    if (!(error instanceof WorkOSUnavailableError)) throw error;
    // The message names what went wrong (status, timeout), never the key or the response body.
    console.error(
      JSON.stringify({ level: "error", msg: "user provisioning failed", requestId, cause: error.message }),
    );
    throw new ApiError("unavailable", "The identity provider cannot be reached right now.", retryAfter(5));
  }
}

/**
 * In a statement: `row` is the token's user, and active. The statement's side of what
 * `resolveCaller` checks, for statements that check the caller themselves and resolve the caller
 * only to explain a miss (401 for a deleted user, 403 `user_inactive` for one not active).
 */
export function isActiveCaller(
  row: { workosUserId: AnySQLiteColumn; state: AnySQLiteColumn },
  claims: AccessTokenClaims,
): SQL {
  return and(eq(row.workosUserId, claims.sub), eq(row.state, "active")) as SQL;
}

export function assertActive(user: Pick<User, "state">): void {
  if (user.state === "deleted") throw unauthenticated();
  if (user.state !== "active") {
    throw new ApiError("user_inactive");
  }
}
