import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

const db = () => env.MIGRATION_TEST_DB;
const rows = async <T>(sql: string) => (await db().prepare(sql).all<T>()).results;

describe("migrations", () => {
  it("carry a database with data from 0000+0001 over: each user's organization and role becomes an active membership", async () => {
    const before = env.TEST_MIGRATIONS.filter((m) => /^000[01]_/.test(m.name));
    expect(before.map((m) => m.name)).toEqual(["0000_init.sql", "0001_touch_detached_profile_picture.sql"]);
    await applyD1Migrations(db(), before);
    const now = Date.now();
    const insert = db().prepare(
      `INSERT INTO users (id, workos_user_id, email, first_name, last_name, role, state, organization_id, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    await db().batch([
      insert.bind(
        "11111111-1111-4111-8111-111111111111",
        "user_admin",
        "Ada@Example.com",
        "Ada",
        "Lovelace",
        "admin",
        "active",
        "org_a",
        now,
        now - 1000,
      ),
      insert.bind(
        "22222222-2222-4222-8222-222222222222",
        "user_member",
        "alan@example.com",
        "Alan",
        "Turing",
        "member",
        "inactive",
        "org_a",
        now,
        now - 2000,
      ),
      insert.bind(
        "44444444-4444-4444-8444-444444444444",
        "user_gone",
        "Zoe@Example.com",
        "Zoë",
        "Ångström",
        "member",
        "deleted",
        "org_a",
        now,
        now - 3000,
      ),
      insert.bind(
        "33333333-3333-4333-8333-333333333333",
        "user_alone",
        "grace@example.com",
        "Grace",
        "Hopper",
        "member",
        "active",
        null,
        now,
        now,
      ),
    ]);

    const upload = db().prepare(
      `INSERT INTO uploads (id, owner_id, kind, scope, state, content_type, size, object_key, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'uploads/' || ?1 || '/original', ?8, ?8)`,
    );
    const admin = "11111111-1111-4111-8111-111111111111";
    await db().batch([
      upload.bind(
        "a0000000-0000-4000-8000-000000000001",
        admin,
        "document",
        "attachment",
        "ready",
        "text/plain",
        500,
        now,
      ),
      upload.bind(
        "a0000000-0000-4000-8000-000000000002",
        admin,
        "document",
        "attachment",
        "pending",
        "text/plain",
        70,
        now,
      ),
      upload.bind(
        "a0000000-0000-4000-8000-000000000003",
        admin,
        "document",
        "attachment",
        "failed",
        "text/plain",
        300,
        now,
      ),
      upload.bind(
        "a0000000-0000-4000-8000-000000000004",
        admin,
        "image",
        "profile_picture",
        "ready",
        "image/png",
        900,
        now,
      ),
    ]);

    await applyD1Migrations(db(), env.TEST_MIGRATIONS);

    expect(await rows("SELECT * FROM memberships ORDER BY workos_user_id")).toEqual([
      {
        workos_user_id: "user_admin",
        organization_id: "org_a",
        role: "admin",
        state: "active",
        changed_at: now - 1000,
        user_id: "11111111-1111-4111-8111-111111111111",
        user_state: "active",
        last_name_key: "lovelace",
        first_name_key: "ada",
        email_key: "ada@example.com",
      },
      {
        workos_user_id: "user_gone",
        organization_id: "org_a",
        role: "member",
        state: "active",
        changed_at: now - 3000,
        user_id: "44444444-4444-4444-8444-444444444444",
        user_state: "deleted",
        last_name_key: "",
        first_name_key: "",
        email_key: "",
      },
      {
        workos_user_id: "user_member",
        organization_id: "org_a",
        role: "member",
        state: "active",
        changed_at: now - 2000,
        user_id: "22222222-2222-4222-8222-222222222222",
        user_state: "inactive",
        last_name_key: "turing",
        first_name_key: "alan",
        email_key: "alan@example.com",
      },
    ]);
    // A user deleted before user.deleted erased personal data is erased by the migration (case 50).
    expect(
      await rows(
        "SELECT email, email_verified, first_name, last_name, first_name_key, last_name_key, email_key, workos_profile_picture_url, last_login FROM users WHERE state = 'deleted'",
      ),
    ).toEqual([
      {
        email: "",
        email_verified: 0,
        first_name: "",
        last_name: "",
        first_name_key: "",
        last_name_key: "",
        email_key: "",
        workos_profile_picture_url: null,
        last_login: null,
      },
    ]);
    // The attachments already stored count against the quota: ready and pending ones, by owner.
    expect(await rows("SELECT id, attachment_bytes FROM users WHERE attachment_bytes > 0")).toEqual([
      { id: admin, attachment_bytes: 570 },
    ]);
    const columns = await rows<{ name: string }>("SELECT name FROM pragma_table_info('users')");
    expect(columns.map((c) => c.name)).not.toContain("role");
    expect(columns.map((c) => c.name)).not.toContain("organization_id");
    expect(await rows("SELECT count(*) AS n FROM users")).toEqual([{ n: 4 }]);
  });
});
