import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_PENDING_UPLOADS_PER_USER } from "../src/routes/uploads/upload-rules";
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
async function plansOf(request: () => Promise<Response>, d1: ReturnType<typeof countingD1>, status = 200) {
  const response = await request();
  expect(response.status).toBe(status);
  expect(d1.statements.length).toBeGreaterThan(0);
  return Promise.all(
    d1.statements.map(async (statement) => ({ sql: statement.sql, plan: await planOf(statement) })),
  );
}

function expectIndexed(plans: { sql: string; plan: string[] }[]) {
  for (const { sql, plan } of plans) {
    expect(plan.length, sql).toBeGreaterThan(0);
    expect(
      plan.filter((step) => /^SCAN (users|uploads|caller|owner)\b/.test(step)),
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
    const d1 = countingD1(env.DB);
    const plans = await plansOf(
      () =>
        call("/api/v1/users/me/profile-picture", {
          method: "PATCH",
          token,
          json: { uploadId: upload.id },
          env: { DB: d1 },
        }),
      d1,
    );
    expectIndexed(plans);
    expect(plans.map((p) => p.plan.join(" | ")).join("\n")).toContain("users_workos_user_id_unique");
  });

  it("PATCH /api/v1/shared/users/{user_id}/profile-picture by an admin", async () => {
    mockWorkOS();
    const admin = await createUser({ role: "admin" });
    const target = await createUser();
    const upload = await createUpload(admin);
    const token = await signToken({ sub: admin.workosUserId, org_id: "org_acme", role: "admin" });
    const d1 = countingD1(env.DB);
    expectIndexed(
      await plansOf(
        () =>
          call(`/api/v1/shared/users/${target.id}/profile-picture`, {
            method: "PATCH",
            token,
            json: { uploadId: upload.id },
            env: { DB: d1 },
          }),
        d1,
      ),
    );
  });

  it("GET /api/v1/users/me and GET /api/v1/shared/users/{user_id}", async () => {
    mockWorkOS();
    const user = await createUser();
    const teammate = await createUser();
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
