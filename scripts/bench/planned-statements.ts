/**
 * The statements whose query plans the benchmark prints, as the service builds them: its own
 * builders, called with the benchmark's ids, each rendered by Drizzle with its parameters written
 * in as SQL literals (`wrangler d1 execute --command` binds none). The benchmark bundles this file
 * into Node (plans.mjs), so no statement is copied by hand and none can drift from what is sent.
 */
import { recordAuditEvent } from "../../src/audit/outbox";
import { createDb } from "../../src/db/client";
import { callerWithMembership } from "../../src/identity/caller";
import { teammateById } from "../../src/identity/memberships";
import { ownUploadById } from "../../src/pictures/own-upload";
import { pageWithCaller } from "../../src/routes/users/members-list";
import { conditionalUpdate } from "../../src/routes/users/profile-picture-rules";

export interface PlanValues {
  /** The caller: their user id, WorkOS id and token organization. */
  callerId: string;
  sub: string;
  org: string;
  /** A ready upload of the caller's. */
  uploadId: string;
  /** A teammate's user id (the admin's PATCH, the lookup by id). */
  teammateId: string;
  pageSize: number;
  /** Where the second page of the members list starts. */
  after: [lastNameKey: string, firstNameKey: string, userId: string];
}

export interface PlannedStatement {
  name: string;
  sql: string;
}

/** Every statement the benchmark plans, by what sends it. */
export function plannedStatements(values: PlanValues): PlannedStatement[] {
  // Drizzle needs a binding only to run a statement, never to build one.
  const db = createDb({} as D1Database);
  const { callerId, sub, org, uploadId, teammateId, pageSize, after } = values;
  const member = { sub, org_id: org, role: "member" };
  const admin = { ...member, role: "admin" };
  return [
    {
      name: "caller by workos_user_id with their membership of the token's organization (every authenticated request)",
      sql: literal(callerWithMembership(db, sub, org).toSQL()),
    },
    {
      name: "conditional UPDATE with the caller check and EXISTS (the PATCH on /users/me)",
      sql: literal(conditionalUpdate(db, { claims: member, target: "caller", uploadId }).toSQL()),
    },
    {
      name: "conditional UPDATE for a teammate (an admin's PATCH on /shared/users/{id}: both memberships in the token's organization)",
      sql: literal(
        conditionalUpdate(db, { claims: admin, target: { userId: teammateId }, uploadId }).toSQL(),
      ),
    },
    {
      name: "members list, first page (GET /shared/users)",
      sql: literal(pageWithCaller(db, sub, org, { limit: pageSize, after: undefined }).toSQL()),
    },
    {
      name: "members list, a page after a cursor",
      sql: literal(pageWithCaller(db, sub, org, { limit: pageSize, after }).toSQL()),
    },
    {
      name: "teammate by id with their membership (GET /shared/users/{id}; PATCH failure explanation)",
      sql: literal(teammateById(db, org, teammateId).toSQL()),
    },
    {
      name: "caller's upload by id (PATCH failure explanation)",
      sql: literal(ownUploadById(db, callerId, uploadId).toSQL()),
    },
  ];
}

export interface RowsReadValues {
  /** The reader: their WorkOS id, token organization, and the photo they have (their PATCH sets it again). */
  sub: string;
  org: string;
  uploadId: string;
  /** The write that set that photo: the PATCH's audit event is that write's (so it inserts one). */
  writeId: string;
  pageSize: number;
  /** Where a page after the first starts. */
  after: [lastNameKey: string, firstNameKey: string, userId: string];
  /** A search that matches most members, and one that matches none. */
  qMany: string;
  qNone: string;
}

export interface MeasuredStatement {
  key: string;
  name: string;
  sql: string;
}

/**
 * What each request the rows-read targets are about sends to D1, as the service builds it: one
 * statement each (their happy paths are one round trip), and the PATCH's audit event, the second
 * statement of its batch. The PATCH sets the photo the reader has, so running it changes nothing and
 * it can be run on any copy; the event then is the one that photo's write recorded, so it is
 * inserted (into the copy) as a change's event is.
 */
export function rowsReadStatements(values: RowsReadValues): MeasuredStatement[] {
  const db = createDb({} as D1Database);
  const { sub, org, uploadId, writeId, pageSize, after, qMany, qNone } = values;
  const member = { sub, org_id: org, role: "member" };
  const page = (q: string | undefined, from: RowsReadValues["after"] | undefined) =>
    literal(pageWithCaller(db, sub, org, { q, limit: pageSize, after: from }).toSQL());
  return [
    { key: "me", name: "GET /users/me", sql: literal(callerWithMembership(db, sub, org).toSQL()) },
    {
      key: "patch",
      name: "PATCH /users/me/profile-picture",
      sql: literal(conditionalUpdate(db, { claims: member, target: "caller", uploadId }).toSQL()),
    },
    {
      key: "patchEvent",
      name: "the PATCH's audit event (the INSERT … SELECT in its batch)",
      sql: literal(
        recordAuditEvent(
          db,
          {
            writeId,
            organizationId: org,
            actorWorkosUserId: sub,
            target: { workosUserId: sub },
            location: "203.0.113.7",
            userAgent: "bench",
            via: "patch",
          },
          new Date(),
        ).toSQL(),
      ),
    },
    { key: "page", name: `members page (${pageSize}), the first`, sql: page(undefined, undefined) },
    { key: "pageAfter", name: `members page (${pageSize}), after a cursor`, sql: page(undefined, after) },
    {
      key: "pageMany",
      name: `members page (${pageSize}), q=${qMany} (matches most)`,
      sql: page(qMany, undefined),
    },
    {
      key: "pageManyAfter",
      name: `members page (${pageSize}), q=${qMany} (matches most), after a cursor`,
      sql: page(qMany, after),
    },
    {
      key: "pageNone",
      name: `members page (${pageSize}), q=${qNone} (matches none)`,
      sql: page(qNone, undefined),
    },
  ];
}

/** A statement with each `?` replaced by its parameter as an SQL literal, in order. */
export function literal({ sql, params }: { sql: string; params: unknown[] }): string {
  let next = 0;
  const text = sql.replace(/\?/g, () => {
    if (next >= params.length) throw new Error(`more placeholders than parameters in: ${sql}`);
    return sqlLiteral(params[next++]);
  });
  if (next !== params.length) throw new Error(`more parameters than placeholders in: ${sql}`);
  return text;
}

function sqlLiteral(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (typeof value === "boolean") return value ? "1" : "0";
  return `'${String(value).replaceAll("'", "''")}'`;
}
