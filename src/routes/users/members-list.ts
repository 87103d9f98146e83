import { and, asc, eq, getTableColumns, or, type SQL, sql } from "drizzle-orm";
import { alias, type SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Database } from "../../db/client";
import { memberships, type User, users } from "../../db/schema";
import type { AccessTokenClaims } from "../../identity/access-token";
import { assertActive, type CallerInputs, resolveCaller } from "../../identity/caller";
import {
  changesStored,
  membershipFromToken,
  tokenRole,
  type UserInRole,
  upsertMembership,
} from "../../identity/memberships";
import { searchKey } from "../../identity/provisioning";
import { decodeBase64urlText, encodeBase64urlText } from "../../lib/base64url";
import { ApiError } from "../../lib/errors/api-error";

export interface MembersQuery {
  q?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface MembersPage {
  members: UserInRole[];
  nextCursor: string | null;
  /** The caller's row, when the page had to resolve them (only a caller out of the ordinary is). */
  caller?: User;
}

/** Where a page starts: just after this member in the list's order. */
type Position = [lastNameKey: string, firstNameKey: string, userId: string];

/**
 * One page of the active members of the caller's token organization (the caller included),
 * ordered by last name, first name (case-insensitively: by their `searchKey`s) and id, keyset-paged: a page starts strictly after the cursor's position, so members
 * added or removed between pages never shift the others. A token without `org_id`, or a caller no
 * longer an active member there, lists the caller alone.
 *
 * Happy path: ONE statement that reads the caller, their membership and the page together
 * (`pageWithCaller`). Anything unusual about the caller (not provisioned yet, inactive, membership
 * to record or no longer active) is settled by `resolveCaller`, then the page is read again.
 */
export async function listMembers(inputs: CallerInputs, query: MembersQuery): Promise<MembersPage> {
  const { db, claims } = inputs;
  const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  const page = { ...query, after };
  if (claims.org_id !== undefined) {
    const rows = await pageWithCaller(db, claims.sub, claims.org_id, page);
    const head = rows[0];
    if (head?.callerState === "active" && head.membership?.state === "active") {
      // The caller is an active member; record a role the token changed since (a write only then).
      const change = membershipFromToken(claims);
      if (change && changesStored(head.membership, change)) await upsertMembership(db, change);
      return toPage(membersOf(rows), page.limit, claims);
    }
  } else {
    const alone = await callerAlone(db, claims.sub, page);
    if (alone?.user.state === "active") return toPage(alone.rows, page.limit, claims);
  }
  const { user: caller, access } = await resolveCaller(inputs);
  if (access.organizationId !== null) {
    const rows = await pageWithCaller(db, claims.sub, access.organizationId, page);
    return { ...toPage(membersOf(rows), page.limit, claims), caller };
  }
  const alone = await callerAlone(db, claims.sub, page);
  if (!alone) return { members: [], nextCursor: null, caller };
  assertActive(alone.user);
  return { ...toPage(alone.rows, page.limit, claims), caller };
}

interface PageRequest {
  q?: string | undefined;
  limit: number;
  after: Position | undefined;
}

/** A listed user with their role in the organization (`null`: not a member, the caller alone). */
type ListedUser = User & { role: string | null };

/** The page's members among `pageWithCaller`'s rows (an empty page is one row without a member). */
const membersOf = (rows: Awaited<ReturnType<typeof pageWithCaller>>) =>
  rows.flatMap((row) => (row.member ? [row.member] : []));

function toPage(rows: ListedUser[], limit: number, claims: AccessTokenClaims): MembersPage {
  const members = rows.slice(0, limit).map(({ role, ...user }) => ({
    user,
    // The caller in their token's role, as on /users/me; a teammate in their role here.
    role: user.workosUserId === claims.sub || role === null ? tokenRole(claims) : role,
  }));
  const last = rows[limit - 1];
  return {
    members,
    nextCursor:
      rows.length > limit && last ? encodeCursor([last.lastNameKey, last.firstNameKey, last.id]) : null,
  };
}

/** The keys the list sorts and searches by, as columns or expressions of one row. */
interface ListKeys {
  lastName: SQLiteColumn | SQL;
  firstName: SQLiteColumn | SQL;
  email: SQLiteColumn | SQL;
  id: SQLiteColumn;
}

/**
 * After the cursor, and matching `q`: a prefix of the first name, the last name, "first last" or
 * the email, compared on the keys (lower-cased by `searchKey`, as `q` is). A prefix is compared with `substr`, not `LIKE`: D1
 * refuses `LIKE` patterns over 50 bytes ("pattern too complex") and `q` may be 100 characters, and
 * `substr` has no wildcards, so `%`, `_` and `\` in `q` match themselves with nothing to escape.
 */
function listFilter(keys: ListKeys, { q, after }: PageRequest): SQL | undefined {
  const prefix = q === undefined ? undefined : searchKey(q);
  const startsWith = (key: SQLiteColumn | SQL) => sql`substr(${key}, 1, length(${prefix})) = ${prefix}`;
  return and(
    after
      ? sql`(${keys.lastName}, ${keys.firstName}, ${keys.id}) > (${after[0]}, ${after[1]}, ${after[2]})`
      : undefined,
    prefix === undefined
      ? undefined
      : or(
          startsWith(keys.firstName),
          startsWith(keys.lastName),
          startsWith(sql`${keys.firstName} || ' ' || ${keys.lastName}`),
          startsWith(keys.email),
        ),
  );
}

/**
 * The page and the caller in one statement: the caller's row and membership, left-joined to the
 * page (at most `limit + 1` members, the extra one only says whether there is a next page). The
 * page is read from `memberships_members_list_idx` alone: equality on (organization, state, user
 * state), then a range on the keyset, in index order, so a page reads `limit + 1` entries whatever
 * the organization's size. The join condition withholds the page unless the caller is active and
 * an active member; a caller without a row gets no row at all.
 */
export function pageWithCaller(db: Database, sub: string, organizationId: string, page: PageRequest) {
  const caller = alias(users, "caller");
  const callerMembership = alias(memberships, "caller_membership");
  const m = memberships;
  const members = db
    // The user's keys are the membership's (copies kept in step by trigger), so the cursor made
    // from them is a position in the index.
    .select({ ...getTableColumns(users), role: m.role })
    .from(m)
    .innerJoin(users, eq(users.id, m.userId))
    .where(
      and(
        eq(m.organizationId, organizationId),
        eq(m.state, "active"),
        eq(m.userState, "active"),
        listFilter(
          { lastName: m.lastNameKey, firstName: m.firstNameKey, email: m.emailKey, id: m.userId },
          page,
        ),
      ),
    )
    .orderBy(asc(m.lastNameKey), asc(m.firstNameKey), asc(m.userId))
    .limit(page.limit + 1)
    .as("page");
  return db
    .select({
      callerState: caller.state,
      membership: {
        state: callerMembership.state,
        role: callerMembership.role,
        changedAt: callerMembership.changedAt,
      },
      member: {
        id: members.id,
        workosUserId: members.workosUserId,
        email: members.email,
        emailVerified: members.emailVerified,
        firstName: members.firstName,
        lastName: members.lastName,
        firstNameKey: members.firstNameKey,
        lastNameKey: members.lastNameKey,
        emailKey: members.emailKey,
        workosProfilePictureUrl: members.workosProfilePictureUrl,
        state: members.state,
        lastLogin: members.lastLogin,
        workosUpdatedAt: members.workosUpdatedAt,
        profilePictureUploadId: members.profilePictureUploadId,
        profilePictureThumbSizes: members.profilePictureThumbSizes,
        profilePictureWriteId: members.profilePictureWriteId,
        previousProfilePictureUploadId: members.previousProfilePictureUploadId,
        importedPictureUploadId: members.importedPictureUploadId,
        pictureImportUrl: members.pictureImportUrl,
        attachmentBytes: members.attachmentBytes,
        createdAt: members.createdAt,
        updatedAt: members.updatedAt,
        role: members.role,
      },
    })
    .from(caller)
    .leftJoin(
      callerMembership,
      and(
        eq(callerMembership.workosUserId, caller.workosUserId),
        eq(callerMembership.organizationId, organizationId),
      ),
    )
    .leftJoin(members, and(eq(caller.state, "active"), eq(callerMembership.state, "active")))
    .where(eq(caller.workosUserId, sub));
}

/** The caller's row, and the page of the caller alone: them, if `q` and the cursor let them in. */
async function callerAlone(db: Database, sub: string, page: PageRequest) {
  const keys = {
    lastName: users.lastNameKey,
    firstName: users.firstNameKey,
    email: users.emailKey,
    id: users.id,
  };
  const filter = listFilter(keys, page);
  const [row] = await db
    .select({
      user: getTableColumns(users),
      listed: (filter ? sql`(${filter})` : sql`1`).mapWith(Boolean),
    })
    .from(users)
    .where(eq(users.workosUserId, sub))
    .limit(1);
  if (!row) return undefined;
  const { user, listed } = row;
  return { user, rows: listed ? [{ ...user, role: null }] : [] };
}

const CURSOR_MAX_KEY_LENGTH = 4096;

export function encodeCursor(position: Position): string {
  return encodeBase64urlText(JSON.stringify(position));
}

/** The position an opaque cursor names; 422 for anything this service did not hand out. */
export function decodeCursor(cursor: string): Position {
  try {
    const position: unknown = JSON.parse(decodeBase64urlText(cursor));
    if (
      Array.isArray(position) &&
      position.length === 3 &&
      position.every((key) => typeof key === "string" && key.length <= CURSOR_MAX_KEY_LENGTH)
    ) {
      return position as Position;
    }
  } catch {}
  throw new ApiError("validation_error", [
    { loc: ["query", "cursor"], msg: "Invalid cursor", type: "value_error" },
  ]);
}
