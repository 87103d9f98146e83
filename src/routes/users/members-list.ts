import { and, asc, eq, exists, getTableColumns, or, type SQL, sql } from "drizzle-orm";
import { alias, type SQLiteColumn } from "drizzle-orm/sqlite-core";
import type { Database } from "../../db/client";
import {
  memberSearchPrefixes,
  memberships,
  SEARCH_PREFIX_MAX_LENGTH,
  type User,
  type UserState,
  users,
} from "../../db/schema";
import type { AccessTokenClaims } from "../../identity/access-token";
import { assertActive, type CallerInputs, resolveCaller } from "../../identity/caller";
import {
  changesStored,
  membershipFromToken,
  type StoredMembership,
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
    const { callerRow, members } = readPage(await pageWithCaller(db, claims.sub, claims.org_id, page));
    if (callerRow?.state === "active" && callerRow.membership?.state === "active") {
      // The caller is an active member; record a role the token changed since (a write only then).
      const change = membershipFromToken(claims);
      if (change && changesStored(callerRow.membership, change)) await upsertMembership(db, change);
      return toPage(members, page.limit, claims);
    }
  } else {
    const alone = await callerAlone(db, claims.sub, page);
    if (alone?.user.state === "active") return toPage(alone.rows, page.limit, claims);
  }
  const { user: caller, access } = await resolveCaller(inputs);
  if (access.organizationId !== null) {
    const { members } = readPage(await pageWithCaller(db, claims.sub, access.organizationId, page));
    return { ...toPage(members, page.limit, claims), caller };
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

/** Strictly after `position` in the list's order. */
const afterPosition = (keys: Omit<ListKeys, "email">, position: Position) =>
  sql`(${keys.lastName}, ${keys.firstName}, ${keys.id}) > (${position[0]}, ${position[1]}, ${position[2]})`;

/**
 * Matching `prefix` (a `searchKey`): a prefix of the first name, the last name, "first last" or the
 * email, compared on the keys. Compared with `substr`, not `LIKE`: D1 refuses `LIKE` patterns over 50
 * bytes ("pattern too complex") and `q` may be 100 characters, and `substr` has no wildcards, so `%`, `_`
 * and `\` in `q` match themselves with nothing to escape.
 */
function startsWith(keys: ListKeys, prefix: string): SQL | undefined {
  const keyStarts = (key: SQLiteColumn | SQL) => sql`substr(${key}, 1, length(${prefix})) = ${prefix}`;
  return or(
    keyStarts(keys.firstName),
    keyStarts(keys.lastName),
    keyStarts(sql`${keys.firstName} || ' ' || ${keys.lastName}`),
    keyStarts(keys.email),
  );
}

/**
 * The page without `q`, read from `memberships_members_list_idx` alone: equality on (organization,
 * state, user state), then a range on the keyset, in index order, so it reads `limit + 1` entries
 * whatever the organization's size.
 */
function listedPage(db: Database, organizationId: string, page: PageRequest, callerMayList: SQL) {
  const m = memberships;
  return (
    db
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
          callerMayList,
          page.after
            ? afterPosition({ lastName: m.lastNameKey, firstName: m.firstNameKey, id: m.userId }, page.after)
            : undefined,
        ),
      )
      .orderBy(asc(m.lastNameKey), asc(m.firstNameKey), asc(m.userId))
      .limit(page.limit + 1)
  );
}

/**
 * The page with `q`, read from `member_search_prefixes`: equality on (organization, the first
 * `SEARCH_PREFIX_MAX_LENGTH` characters of `q`), then a range on the keyset, in the table's order.
 * Each entry there is a listed member whose keys start with that prefix, once, so a `q` that short
 * reads `limit + 1` entries (all the matches, when fewer), whatever the organization's size. A longer
 * `q` is also compared whole on the user's keys, so it reads past the members who share only its
 * first characters too (an entry and a users row each).
 */
function searchPage(
  db: Database,
  organizationId: string,
  page: PageRequest & { q: string },
  callerMayList: SQL,
) {
  const p = memberSearchPrefixes;
  const key = searchKey(page.q);
  // By code points, as SQLite's substr counts characters and the triggers cut the prefixes.
  const characters = Array.from(key);
  const prefix = characters.slice(0, SEARCH_PREFIX_MAX_LENGTH).join("");
  return db
    .select({ ...getTableColumns(users), role: p.role })
    .from(p)
    .innerJoin(users, eq(users.id, p.userId))
    .where(
      and(
        eq(p.organizationId, organizationId),
        eq(p.prefix, prefix),
        callerMayList,
        page.after
          ? afterPosition({ lastName: p.lastNameKey, firstName: p.firstNameKey, id: p.userId }, page.after)
          : undefined,
        characters.length > SEARCH_PREFIX_MAX_LENGTH
          ? startsWith(
              {
                lastName: users.lastNameKey,
                firstName: users.firstNameKey,
                email: users.emailKey,
                id: users.id,
              },
              key,
            )
          : undefined,
      ),
    )
    .orderBy(asc(p.lastNameKey), asc(p.firstNameKey), asc(p.userId))
    .limit(page.limit + 1);
}

/** The columns of a listed member: the user's, and their role in the organization. */
const memberColumns = { ...getTableColumns(users), role: memberships.role };
type MemberColumns = typeof memberColumns;

/**
 * The page and the caller in one statement: the caller's row (their state and membership), then the
 * page's rows (at most `limit + 1` members, the extra one only says whether there is a next page;
 * `listedPage`, or `searchPage` with `q`), which the page's subquery yields in its order. A UNION ALL
 * rather than the page left-joined to the caller: SQLite materializes a subquery on the right of a
 * join and reads it back, a row read more per member (D1's `rows_read` for a page of 50 was 155; this
 * is 106). The page is withheld unless the caller is active and an active member: a condition on no
 * row of the page's, which SQLite evaluates once, before the page's first entry. A caller without a
 * row gets no caller's row.
 */
export function pageWithCaller(db: Database, sub: string, organizationId: string, page: PageRequest) {
  const caller = alias(users, "caller");
  const callerMembership = alias(memberships, "caller_membership");
  const ofCaller = and(
    eq(callerMembership.workosUserId, caller.workosUserId),
    eq(callerMembership.organizationId, organizationId),
  );
  const callerMayList = exists(
    db
      .select({ listed: sql`1` })
      .from(caller)
      .innerJoin(callerMembership, ofCaller)
      .where(
        and(eq(caller.workosUserId, sub), eq(caller.state, "active"), eq(callerMembership.state, "active")),
      ),
  );
  const { q } = page;
  const members = (
    q === undefined
      ? listedPage(db, organizationId, page, callerMayList)
      : searchPage(db, organizationId, { ...page, q }, callerMayList)
  ).as("page");
  // NULL where the other kind of row has its columns, typed and decoded as those columns (Drizzle
  // decodes every row of a UNION as its first SELECT's).
  const none = sql<null>`null`;
  const noMember = Object.fromEntries(
    Object.entries(memberColumns).map(([name, column]) => [name, sql`null`.mapWith(column)]),
  ) as { [K in keyof MemberColumns]: SQL<MemberColumns[K]["_"]["data"] | null> };
  const member = Object.fromEntries(
    Object.keys(memberColumns).map((name) => [name, members[name as keyof MemberColumns]]),
  ) as { [K in keyof MemberColumns]: (typeof members)[K] };
  return db
    .select({
      callerState: sql<UserState | null>`${caller.state}`,
      membershipState: callerMembership.state,
      membershipRole: callerMembership.role,
      membershipChangedAt: callerMembership.changedAt,
      member: noMember,
    })
    .from(caller)
    .leftJoin(callerMembership, ofCaller)
    .where(eq(caller.workosUserId, sub))
    .unionAll(
      db
        .select({
          callerState: none,
          membershipState: none,
          membershipRole: none,
          membershipChangedAt: none,
          member,
        })
        .from(members),
    );
}

/**
 * `pageWithCaller`'s rows: the caller's state and membership (when they have a row), and the page's
 * members, in the order the page's subquery read them.
 */
function readPage(rows: Awaited<ReturnType<typeof pageWithCaller>>) {
  let callerRow: { state: UserState; membership: StoredMembership | null } | undefined;
  const members: ListedUser[] = [];
  for (const { callerState, membershipState, membershipRole, membershipChangedAt, member } of rows) {
    if (callerState === null) {
      // A member's row: every member column is set (the caller's row alone has them NULL).
      members.push(member as ListedUser);
    } else {
      callerRow = {
        state: callerState,
        membership:
          membershipState === null || membershipRole === null || membershipChangedAt === null
            ? null
            : { state: membershipState, role: membershipRole, changedAt: membershipChangedAt },
      };
    }
  }
  return { callerRow, members };
}

/** The caller's row, and the page of the caller alone: them, if `q` and the cursor let them in. */
async function callerAlone(db: Database, sub: string, page: PageRequest) {
  const keys = {
    lastName: users.lastNameKey,
    firstName: users.firstNameKey,
    email: users.emailKey,
    id: users.id,
  };
  const filter = and(
    page.after ? afterPosition(keys, page.after) : undefined,
    page.q === undefined ? undefined : startsWith(keys, searchKey(page.q)),
  );
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
