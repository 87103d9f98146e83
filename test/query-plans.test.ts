import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call } from "./helpers/api";
import { type BoundStatement, countingD1 } from "./helpers/counting-d1";
import { createUpload, createUser } from "./helpers/db";
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
async function plansOf(request: () => Promise<Response>, d1: ReturnType<typeof countingD1>) {
  const response = await request();
  expect(response.status).toBe(200);
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
        /^SCAN (users|uploads|memberships|caller|owner|caller_membership)\b|USE TEMP B-TREE/.test(step),
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

  it("GET /api/v1/shared/users: one index serves the organization, the order and the cursor", async () => {
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
    for (const query of [
      "limit=2",
      `limit=2&cursor=${nextCursor}`,
      "q=mem",
      `q=member%201&cursor=${nextCursor}`,
    ]) {
      const d1 = countingD1(env.DB);
      const plans = await plansOf(
        () => call(`/api/v1/shared/users?${query}`, { token, env: { DB: d1 } }),
        d1,
      );
      expectIndexed(plans);
      const plan = plans.map((p) => p.plan.join(" | ")).join("\n");
      expect(plan, query).toMatch(
        query.includes("cursor")
          ? /SEARCH memberships USING INDEX memberships_members_list_idx \(organization_id=\? AND state=\? AND user_state=\? AND \(last_name_key,first_name_key,user_id\)>\(\?,\?,\?\)\)/
          : /SEARCH memberships USING INDEX memberships_members_list_idx \(organization_id=\? AND state=\? AND user_state=\?\)/,
      );
    }
  });

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
});
