import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { auditEvents, searchKeysToRefold, uploads, users, webhookEvents } from "../src/db/schema";
import { resendAuditEvents } from "../src/jobs/audit-events";
import { enqueueBacklog } from "../src/jobs/backlog";
import { refoldSearchKeys } from "../src/jobs/search-keys";
import { cleanUpStorage } from "../src/jobs/storage-cleanup";
import { MAX_PENDING_UPLOADS_PER_USER } from "../src/pictures/upload-rules";
import * as images from "./fixtures/images";
import { call } from "./helpers/api";
import { type BoundStatement, countingD1 } from "./helpers/counting-d1";
import { createUpload, createUser, db } from "./helpers/db";
import { bucketChangedBefore } from "./helpers/hooked-r2";
import { consume, importMessage } from "./helpers/jobs";
import { signToken } from "./helpers/tokens";
import { mockWorkOS } from "./helpers/workos";

afterEach(() => vi.restoreAllMocks());

/** `EXPLAIN QUERY PLAN` of a statement exactly as the service sent it, with the same values bound. */
async function planOf({ sql, params }: BoundStatement): Promise<string[]> {
  const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...params)
    .all<{ detail: string }>();
  return results.map((row) => row.detail);
}

/** Run `request` through the worker and return the plans of every statement it sent to D1. */
async function plansOf(request: () => Promise<Response>, d1: ReturnType<typeof countingD1>, status = 200) {
  const response = await request();
  expect(response.status).toBe(status);
  expect(d1.statements.length).toBeGreaterThan(0);
  return Promise.all(
    d1.statements.map(async (statement) => ({ sql: statement.sql, plan: await planOf(statement) })),
  );
}

/** The plans of a PATCH setting `uploadId` on `path`. */
function patchPlans(path: string, token: string, uploadId: string) {
  const d1 = countingD1(env.DB);
  return plansOf(() => call(path, { method: "PATCH", token, json: { uploadId }, env: { DB: d1 } }), d1);
}

/** No table scanned, and no sort of rows at run time: every order comes from an index. */
function expectIndexed(plans: { sql: string; plan: string[] }[]) {
  for (const { sql, plan } of plans) {
    // An INSERT ... VALUES has no plan steps of its own (its conflict check is the primary key).
    if (!/^insert into/i.test(sql)) expect(plan.length, sql).toBeGreaterThan(0);
    expect(
      plan.filter((step) =>
        /^SCAN (users|uploads|memberships|member_search_prefixes|caller|owner|caller_membership)\b|USE TEMP B-TREE/.test(
          step,
        ),
      ),
      sql,
    ).toEqual([]);
  }
}

describe("every lookup the routes make is indexed (EXPLAIN QUERY PLAN of the statements actually sent)", () => {
  it("PATCH /api/v1/users/me/profile-picture", async () => {
    mockWorkOS();
    const user = await createUser();
    const upload = await createUpload(user);
    const token = await signToken({ sub: user.workosUserId, org_id: "org_acme" });
    const plans = await patchPlans("/api/v1/users/me/profile-picture", token, upload.id);
    expectIndexed(plans);
    expect(plans.map((p) => p.plan.join(" | ")).join("\n")).toContain("users_workos_user_id_unique");
  });

  it("PATCH /api/v1/shared/users/{user_id}/profile-picture by an admin: the memberships by primary key", async () => {
    mockWorkOS();
    const admin = await createUser({ role: "admin" });
    const target = await createUser();
    const upload = await createUpload(admin);
    const token = await signToken({ sub: admin.workosUserId, org_id: "org_acme", role: "admin" });
    const plans = await patchPlans(`/api/v1/shared/users/${target.id}/profile-picture`, token, upload.id);
    expectIndexed(plans);
    const plan = plans.map((p) => p.plan.join(" | ")).join("\n");
    expect(plan).toMatch(
      /SEARCH memberships USING INDEX sqlite_autoindex_memberships_1 \(workos_user_id=\? AND organization_id=\?\)/,
    );
  });

  const LIST_INDEX = "SEARCH memberships USING INDEX memberships_members_list_idx";
  const SEARCH_KEY = "SEARCH member_search_prefixes USING PRIMARY KEY";
  const KEYSET = "\\(last_name_key,first_name_key,user_id\\)>\\(\\?,\\?,\\?\\)";
  it.for([
    {
      query: "limit=2",
      cursor: false,
      reads: new RegExp(`${LIST_INDEX} \\(organization_id=\\? AND state=\\? AND user_state=\\?\\)`),
    },
    {
      query: "limit=2&cursor=",
      cursor: true,
      reads: new RegExp(
        `${LIST_INDEX} \\(organization_id=\\? AND state=\\? AND user_state=\\? AND ${KEYSET}\\)`,
      ),
    },
    {
      query: "q=mem",
      cursor: false,
      reads: new RegExp(`${SEARCH_KEY} \\(organization_id=\\? AND prefix=\\?\\)`),
    },
    {
      query: "q=mem&limit=1&cursor=",
      cursor: true,
      reads: new RegExp(`${SEARCH_KEY} \\(organization_id=\\? AND prefix=\\? AND ${KEYSET}\\)`),
    },
    // Longer than the prefixes: the rest of q is compared on the user's row, after the same search.
    {
      query: "q=member%201",
      cursor: false,
      reads: new RegExp(`${SEARCH_KEY} \\(organization_id=\\? AND prefix=\\?\\)`),
    },
    {
      query: "q=member%201&cursor=",
      cursor: true,
      reads: new RegExp(`${SEARCH_KEY} \\(organization_id=\\? AND prefix=\\? AND ${KEYSET}\\)`),
    },
  ])(
    "GET /api/v1/shared/users?$query…: one index serves the organization, the search, the order and the cursor",
    async ({ query: shape, cursor, reads }) => {
      mockWorkOS();
      const org = `org_${crypto.randomUUID().replaceAll("-", "")}`;
      const members = [];
      for (let i = 0; i < 4; i++)
        members.push(await createUser({ organizationId: org, lastName: `Member ${i}` }));
      const token = await signToken({
        sub: (members[0] as { workosUserId: string }).workosUserId,
        org_id: org,
      });
      const first = await call("/api/v1/shared/users?limit=2", { token });
      const { nextCursor } = (await first.json()) as { nextCursor: string };
      const query = cursor ? `${shape}${nextCursor}` : shape;
      const d1 = countingD1(env.DB);
      const plans = await plansOf(
        () => call(`/api/v1/shared/users?${query}`, { token, env: { DB: d1 } }),
        d1,
      );
      expectIndexed(plans);
      const plan = plans.map((p) => p.plan.join(" | ")).join("\n");
      expect(plan).toMatch(reads);
      // The page is a co-routine: materialized, it would be read again, a row read more per member.
      expect(plan).toContain("CO-ROUTINE page");
      expect(plan).not.toContain("MATERIALIZE");
    },
  );

  it("GET /api/v1/shared/users with a token without org_id", async () => {
    mockWorkOS();
    const user = await createUser();
    const token = await signToken({ sub: user.workosUserId });
    const d1 = countingD1(env.DB);
    expectIndexed(await plansOf(() => call("/api/v1/shared/users?q=ada", { token, env: { DB: d1 } }), d1));
  });

  it("GET /api/v1/users/me and GET /api/v1/shared/users/{user_id}, also recording a membership", async () => {
    mockWorkOS();
    const user = await createUser({ organizationId: null });
    const teammate = await createUser();
    // The first request records the token's membership: its upsert's plan is checked too.
    const token = await signToken({ sub: user.workosUserId, org_id: "org_acme" });
    for (const path of ["/api/v1/users/me", `/api/v1/shared/users/${teammate.id}`]) {
      const d1 = countingD1(env.DB);
      expectIndexed(await plansOf(() => call(path, { token, env: { DB: d1 } }), d1));
    }
  });

  it("POST /api/v1/uploads, and its refusal when the caller has too many uploads pending", async () => {
    mockWorkOS();
    const user = await createUser();
    const token = await signToken({ sub: user.workosUserId, org_id: "org_acme" });
    const start = (d1: ReturnType<typeof countingD1>) => () =>
      call("/api/v1/uploads", {
        method: "POST",
        token,
        json: { kind: "image", scope: "profile_picture", contentType: "image/png", size: 947 },
        env: { DB: d1 },
      });
    const created = countingD1(env.DB);
    const plans = await plansOf(start(created), created, 201);
    expectIndexed(plans);
    const insert = plans.find((p) => /^insert into "uploads"/i.test(p.sql));
    expect(insert?.plan.join(" | ")).toContain(
      "uploads_owner_id_state_created_at_idx (owner_id=? AND state=?)",
    );

    for (let i = 1; i < MAX_PENDING_UPLOADS_PER_USER; i++) await createUpload(user, { state: "pending" });
    const refused = countingD1(env.DB);
    const refusal = await plansOf(start(refused), refused, 429);
    expectIndexed(refusal);
    for (const { sql, plan } of refusal.filter((p) => /"uploads"/.test(p.sql))) {
      expect(plan.join(" | "), sql).toMatch(
        /uploads_owner_id_state_created_at_idx|sqlite_autoindex_uploads_1/,
      );
    }
  });
});

describe("every statement of a storage cleanup run is indexed", () => {
  it("selects, deletes, reads back and counts each category through its index", async () => {
    const now = Date.now();
    const ago = (ms: number) => new Date(now - ms);
    const DAY = 24 * 60 * 60 * 1000;
    const owner = await createUser();
    const deleted = await createUser();
    for (let i = 0; i < 2; i++) {
      await createUpload(owner, { state: "pending", createdAt: ago(2 * DAY), updatedAt: ago(2 * DAY) });
      await createUpload(owner, { state: "failed", createdAt: ago(8 * DAY), updatedAt: ago(8 * DAY) });
      await createUpload(owner, { createdAt: ago(8 * DAY), updatedAt: ago(8 * DAY) });
      await createUpload(deleted);
    }
    // As the user.deleted webhook leaves them: the user a tombstone, their uploads dated by it.
    await db().update(users).set({ state: "deleted" }).where(eq(users.id, deleted.id));
    await db()
      .update(uploads)
      .set({ ownerDeletedAt: new Date(now) })
      .where(eq(uploads.ownerId, deleted.id));
    const d1 = countingD1(env.DB);
    vi.spyOn(console, "log").mockImplementation(() => {});

    // One upload a batch and no time: every category is left unfinished, so its count runs too.
    await cleanUpStorage({ ...env, DB: d1 }, new Date(now), { batchSize: 1, timeBudgetMs: 0 });

    const plans = await Promise.all(
      d1.statements
        .filter((statement) => !/"(webhook_events|upload_objects_to_delete)"/.test(statement.sql))
        .map(async (statement) => ({
          sql: statement.sql,
          plan: (await planOf(statement)).join(" | "),
        })),
    );
    // Per category: the candidates, the guarded delete and its read-back (one batch), and the count of what is left.
    expect(plans).toHaveLength(4 * 4);

    for (const { sql, plan } of plans) {
      // The one scan allowed: of the partial index that holds nothing but the deleted users' uploads.
      const scans = plan.split(" | ").filter((step) => /^SCAN (users|uploads)\b/.test(step));
      expect(scans, sql).toEqual(scans.map(() => "SCAN uploads USING INDEX uploads_owner_deleted_at_idx"));
      expect(plan, sql).not.toContain("TEMP B-TREE");
      if (/^(delete|select "id" from "uploads" where "uploads"."id" in)/.test(sql)) {
        // The batch's own rows by primary key, never the category's whole backlog.
        expect(plan, sql).toMatch(
          /^SEARCH uploads USING (COVERING )?INDEX sqlite_autoindex_uploads_1 \(id=\?\)/,
        );
        continue;
      }
      // Each category through the index that holds its garbage and little else: never every photo in
      // use, nor every tombstone.
      const expected = /"owner_deleted_at"/.test(sql)
        ? /^(SEARCH|SCAN) uploads USING INDEX uploads_owner_deleted_at_idx/
        : /"unreferenced_since"/.test(sql)
          ? /^SEARCH uploads USING INDEX uploads_unreferenced_since_idx \(unreferenced_since>\? AND unreferenced_since<\?\)/
          : /^SEARCH uploads USING INDEX uploads_state_created_at_idx \(state=\? AND created_at<\?\)/;
      expect(plan, sql).toMatch(expected);
      expect(plan, sql).toContain("users_profile_picture_upload_id_idx (profile_picture_upload_id=?)");
      expect(plan, sql).toContain("users_imported_picture_upload_id_idx (imported_picture_upload_id=?)");
    }
  });
});

describe("imports of WorkOS pictures are indexed", () => {
  it("the hourly backlog reads only the imports due, through the partial index that holds nothing else", async () => {
    await createUser({ workosProfilePictureUrl: "https://pictures.test/due.jpg" });
    const d1 = countingD1(env.DB);
    vi.spyOn(console, "log").mockImplementation(() => {});
    await enqueueBacklog({ ...env, DB: d1 }, { batchSize: 1, maxImports: 2 });
    const selects = d1.statements.filter((statement) => /^select/.test(statement.sql));
    expect(selects.length).toBeGreaterThan(0);
    for (const statement of selects) {
      const plan = (await planOf(statement)).join(" | ");
      expect(plan, statement.sql).toMatch(
        /^SEARCH users USING (COVERING )?INDEX users_picture_import_due_idx \(id>\?\)/,
      );
      expect(plan, statement.sql).not.toContain("TEMP B-TREE");
    }
  });

  it("the consumer's reads and writes find the user and the upload by key", async () => {
    const url = "https://pictures.test/indexed.jpg";
    mockWorkOS({ "https://pictures.test/": () => new Response(images.jpeg) });
    const user = await createUser({ workosProfilePictureUrl: url });
    const d1 = countingD1(env.DB);
    vi.spyOn(console, "log").mockImplementation(() => {});
    await consume([importMessage(user, url)], { env: { DB: d1 } });
    expect(d1.statements.length).toBeGreaterThan(2);
    for (const statement of d1.statements) {
      const plan = await planOf(statement);
      if (!/^insert into/i.test(statement.sql)) expect(plan.length, statement.sql).toBeGreaterThan(0);
      expect(
        plan.filter((step) => /^SCAN (users|uploads)\b|USE TEMP B-TREE/.test(step)),
        statement.sql,
      ).toEqual([]);
    }
  });
});

describe("the records of objects to delete are indexed", () => {
  it("records by the uploads' primary key, forgets by its own, and takes the oldest through its index", async () => {
    const owner = await createUser();
    // A day and more old: garbage for a run dated now, never for the runs of storage-cleanup.test.ts (2001).
    const old = new Date(Date.now() - 2 * 24 * 60 * 60 * 1000);
    const upload = await createUpload(owner, { state: "pending", createdAt: old, updatedAt: old });
    // R2 refuses once: the record stays for the next run's retry, which then forgets it.
    const refusing = bucketChangedBefore(env.BUCKET, "delete", async () => {
      throw new Error("R2 is down");
    });
    const d1 = countingD1(env.DB);
    vi.spyOn(console, "log").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});

    await cleanUpStorage({ ...env, DB: d1, BUCKET: refusing }, new Date(), { batchSize: 1, timeBudgetMs: 0 });
    await cleanUpStorage({ ...env, DB: d1 }, new Date(), { batchSize: 1, timeBudgetMs: 0 });

    expect(await db().query.uploads.findFirst({ where: eq(uploads.id, upload.id) })).toBeUndefined();
    const plans = await Promise.all(
      d1.statements
        .filter((statement) => statement.sql.includes('"upload_objects_to_delete"'))
        .map(async (statement) => ({ sql: statement.sql, plan: (await planOf(statement)).join(" | ") })),
    );
    const kinds = new Set(plans.map(({ sql }) => sql.split(" ")[0]));
    expect(kinds).toEqual(new Set(["select", "insert", "delete"]));
    for (const { sql, plan } of plans) {
      const expected = sql.startsWith("insert")
        ? "SEARCH uploads USING COVERING INDEX sqlite_autoindex_uploads_1 (id=?)"
        : sql.startsWith("delete")
          ? "SEARCH upload_objects_to_delete USING COVERING INDEX sqlite_autoindex_upload_objects_to_delete_1 (upload_id=?)"
          : sql.includes("count(")
            ? "SCAN upload_objects_to_delete USING COVERING INDEX"
            : "SCAN upload_objects_to_delete USING INDEX upload_objects_to_delete_recorded_at_idx";
      expect(plan, sql).toContain(expected);
      expect(plan, sql).not.toContain("TEMP B-TREE");
    }
  });
});

describe("forgetting processed webhook event ids is indexed", () => {
  it("deletes the oldest through webhook_events_received_at_idx, and counts what is left through it", async () => {
    const longAgo = new Date(Date.UTC(2000, 0, 1));
    await db()
      .insert(webhookEvents)
      .values(
        ["a", "b"].map((id) => ({ id: `event_plan_${id}`, event: "session.created", receivedAt: longAgo })),
      );
    const d1 = countingD1(env.DB);
    vi.spyOn(console, "log").mockImplementation(() => {});

    // One id a statement, one statement: one is left, so its count runs too.
    const counts = await cleanUpStorage({ ...env, DB: d1 }, new Date(), {
      eventBatchSize: 1,
      maxEventBatches: 1,
    });
    expect(counts.webhookEvents).toBe(1);

    const plans = await Promise.all(
      d1.statements
        .filter((statement) => statement.sql.includes('"webhook_events"'))
        .map(async (statement) => ({ sql: statement.sql, plan: (await planOf(statement)).join(" | ") })),
    );
    expect(plans.map(({ sql }) => sql.split(" ")[0])).toEqual(["delete", "select"]);
    for (const { sql, plan } of plans) {
      expect(plan, sql).toContain("INDEX webhook_events_received_at_idx (received_at<?)");
      expect(plan, sql).not.toMatch(/SCAN webhook_events\b|TEMP B-TREE/);
    }
  });
});

describe("the audit trail's statements read only their rows", () => {
  /** A change written with its pending event, enqueued nowhere: its event's id. */
  async function pendingEvent() {
    const user = await createUser();
    const upload = await createUpload(user);
    const token = await signToken({ sub: user.workosUserId, org_id: "org_acme" });
    const response = await call("/api/v1/users/me/profile-picture", {
      method: "PATCH",
      token,
      json: { uploadId: upload.id },
      headers: { "CF-Connecting-IP": "203.0.113.9" },
    });
    expect(response.status).toBe(200);
    const [event] = await db()
      .select({ id: auditEvents.id })
      .from(auditEvents)
      .where(eq(auditEvents.uploadId, upload.id));
    if (!event) throw new Error("no event written");
    return event.id;
  }

  it("the PATCH's event finds the user written by key, in the change's own batch", async () => {
    mockWorkOS();
    const user = await createUser();
    const upload = await createUpload(user);
    const token = await signToken({ sub: user.workosUserId, org_id: "org_acme" });
    const plans = await patchPlans("/api/v1/users/me/profile-picture", token, upload.id);
    const insert = plans.find(({ sql }) => /^insert into "audit_events"/.test(sql));
    expect(insert?.plan).toEqual(["SEARCH users USING INDEX users_workos_user_id_unique (workos_user_id=?)"]);
  });

  it("the consumer reads the event by key and its names by the users' WorkOS ids", async () => {
    mockWorkOS({ "https://workos-api.test/audit_logs/events": () => new Response(null, { status: 201 }) });
    const id = await pendingEvent();
    const d1 = countingD1(env.DB);
    vi.spyOn(console, "log").mockImplementation(() => {});
    await consume([{ type: "audit_event", id }], { env: { DB: d1 } });
    const plans = await Promise.all(d1.statements.map(async (s) => ({ sql: s.sql, plan: await planOf(s) })));
    expect(plans.map(({ sql }) => sql.split(" ")[0])).toEqual(["select", "update"]);
    expect(plans[0]?.plan).toEqual([
      "SEARCH audit_events USING INDEX sqlite_autoindex_audit_events_1 (id=?)",
      "SEARCH actor USING INDEX users_workos_user_id_unique (workos_user_id=?) LEFT-JOIN",
      "SEARCH target USING INDEX users_workos_user_id_unique (workos_user_id=?) LEFT-JOIN",
    ]);
    expect(plans[1]?.plan).toEqual([
      "SEARCH audit_events USING INDEX sqlite_autoindex_audit_events_1 (id=?)",
    ]);
  });

  it("the hourly job takes the overdue through the pending events' index, and forgets through the settled ones'", async () => {
    await pendingEvent();
    const d1 = countingD1(env.DB);
    vi.spyOn(console, "log").mockImplementation(() => {});
    await resendAuditEvents({ ...env, DB: d1 }, new Date(Date.now() + 3_600_000), {
      batchSize: 1,
      maxResends: 1,
    });
    const plans = await Promise.all(d1.statements.map(async (s) => ({ sql: s.sql, plan: await planOf(s) })));
    const take = plans.find(({ sql }) => /^select .* from "audit_events"/.test(sql));
    expect(take?.plan).toEqual(["SEARCH audit_events USING INDEX audit_events_due_idx (next_attempt_at<?)"]);
    const forget = plans.find(({ sql }) => /^delete from "audit_events"/.test(sql));
    expect(forget?.plan.join(" | ")).toMatch(
      /SEARCH audit_events USING INDEX audit_events_settled_at_idx \(settled_at<\?\)/,
    );
    // The ids the update takes come bound as one JSON value: json_each is their list, not a table.
    for (const { sql, plan } of plans)
      expect(
        plan.filter((step) => /^SCAN (?!json_each)|TEMP B-TREE/.test(step)),
        sql,
      ).toEqual([]);
  });
});

describe("the hourly refold of search keys finds its users by key", () => {
  it("writes a batch's keys in one statement, each user found by primary key from the JSON rows bound", async () => {
    const a = await createUser({ firstName: "Élodie" });
    const b = await createUser({ firstName: "Ærin" });
    await db()
      .insert(searchKeysToRefold)
      .values([{ userId: a.id }, { userId: b.id }]);
    const d1 = countingD1(env.DB);
    vi.spyOn(console, "log").mockImplementation(() => {});
    await refoldSearchKeys({ ...env, DB: d1 }, { batchSize: 2, maxBatches: 1 });
    const plans = await Promise.all(d1.statements.map(async (s) => ({ sql: s.sql, plan: await planOf(s) })));
    expect(plans.map(({ sql }) => sql.split(" ")[0])).toEqual(["select", "delete", "update"]);
    const write = plans.find(({ sql }) => /^update "users"/.test(sql));
    expect(write?.plan).toEqual([
      expect.stringMatching(/^SCAN j\b/),
      "SEARCH users USING INDEX sqlite_autoindex_users_1 (id=?)",
    ]);
    // The rows come bound as one JSON value: json_each (j) is their list, not a table. The read takes
    // the first rows of its own list, whatever they are; no statement scans users or memberships.
    for (const { sql, plan } of plans)
      expect(
        plan.filter((step) => /^SCAN (users|memberships|member_search_prefixes)\b|TEMP B-TREE/.test(step)),
        sql,
      ).toEqual([]);
  });
});
