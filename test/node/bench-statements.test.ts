import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadServiceStatements } from "../../scripts/bench/service-statements.mjs";

type Statements = Awaited<ReturnType<typeof loadServiceStatements>>;

describe("the statements the benchmark plans (scripts/bench/planned-statements.ts)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "bench-statements-"));
  let service: Statements;
  beforeAll(async () => {
    service = await loadServiceStatements(dir);
  }, 30_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const values = {
    callerId: "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
    sub: "user_01DEMO",
    org: "org_01DEMO",
    uploadId: "3c90c3cc-0d44-4b50-8888-8dd25736052a",
    teammateId: "0b9e8d7c-6b5a-4948-8372-6a5b4c3d2e1f",
    pageSize: 50,
    after: ["last8", "first4", "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"] as [string, string, string],
  };

  it("are the service's own, built from the PATCH's rules, with every parameter written in", () => {
    const planned = service.plannedStatements(values);
    expect(planned.map((p) => p.name)).toHaveLength(7);
    for (const { name, sql } of planned) expect(sql, name).not.toContain("?");
    const patch = planned.find((p) => p.name.includes("the PATCH on /users/me"))?.sql;
    expect(patch).toMatch(/^update "users" set "profile_picture_upload_id" = '3c90c3cc-/);
    expect(patch).toContain(`"uploads"."scope" = 'profile_picture'`);
    expect(patch).toContain(`"uploads"."state" = 'ready'`);
    // What the hand copy had left out: the role the answer shows, read in the same statement.
    expect(patch).toContain(`"target_membership"."organization_id" = 'org_01DEMO'`);
    const page = planned.find((p) => p.name.includes("after a cursor"))?.sql;
    expect(page).toContain(`> ('last8', 'first4', '6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b')`);
    expect(page).toContain("limit 51");
  });

  it("write each parameter as an SQL literal, in order", () => {
    expect(
      service.literal({ sql: "a = ? and b = ? and c is ? and d = ?", params: ["it's", 7, null, true] }),
    ).toBe("a = 'it''s' and b = 7 and c is NULL and d = 1");
  });

  it.for([
    { name: "more placeholders than parameters", sql: "a = ? and b = ?", params: [1] },
    { name: "more parameters than placeholders", sql: "a = ?", params: [1, 2] },
  ])("refuse a statement with $name", ({ sql, params }) => {
    expect(() => service.literal({ sql, params })).toThrow();
  });
});
