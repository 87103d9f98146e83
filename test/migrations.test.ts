import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SEARCH_PREFIX_MAX_LENGTH } from "../src/db/schema";
import { refoldSearchKeys } from "../src/jobs/search-keys";

afterEach(() => vi.restoreAllMocks());

const db = () => env.MIGRATION_TEST_DB;
const rows = async <T>(sql: string) => (await db().prepare(sql).all<T>()).results;

/**
 * Every trigger the hand-written migrations create, with its table. A generated migration that
 * rebuilds one of these tables (drizzle-kit does, for changes SQLite's ALTER TABLE cannot make)
 * drops its triggers without a word; this names each one that went.
 */
const TRIGGERS = [
  { name: "memberships_copy_user", table: "memberships" },
  { name: "memberships_deleted_search_prefixes", table: "memberships" },
  { name: "memberships_inserted_search_prefixes", table: "memberships" },
  { name: "memberships_updated_search_prefixes", table: "memberships" },
  { name: "uploads_deleted_count_attachment_bytes", table: "uploads" },
  { name: "uploads_inserted_count_attachment_bytes", table: "uploads" },
  { name: "uploads_updated_count_attachment_bytes", table: "uploads" },
  { name: "users_imported_picture_changed", table: "users" },
  { name: "users_inserted_copy_to_memberships", table: "users" },
  { name: "users_profile_picture_changed", table: "users" },
  { name: "users_updated_copy_to_memberships", table: "users" },
];

describe("the database the migrations make", () => {
  it("has every hand-written trigger, on its table, and no other", async () => {
    const { results } = await env.DB.prepare(
      "SELECT name, tbl_name AS \"table\" FROM sqlite_master WHERE type = 'trigger' ORDER BY name",
    ).all();
    expect(results).toEqual(TRIGGERS);
  });

  it("has the search prefixes' lengths, 1 to SEARCH_PREFIX_MAX_LENGTH, and their table WITHOUT ROWID", async () => {
    const lengths = await env.DB.prepare("SELECT length FROM search_prefix_lengths ORDER BY length").all();
    expect(lengths.results).toEqual(
      Array.from({ length: SEARCH_PREFIX_MAX_LENGTH }, (_, i) => ({ length: i + 1 })),
    );
    // Drizzle cannot declare it (0017 says so by hand): a rebuild of the table by a generated migration would drop it.
    const table = await env.DB.prepare(
      "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'member_search_prefixes'",
    ).first<{ sql: string }>();
    expect(table?.sql).toMatch(/\) WITHOUT ROWID$/);
  });
});

describe("migrations", () => {
  it("carry a database with users, uploads and webhook events from 0000+0001 over: memberships, attachment bytes, erased tombstones, keys to refold, search prefixes", async () => {
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
        "Émile",
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
        "55555555-5555-4555-8555-555555555555",
        "user_elodie",
        "Elodie@Example.fr",
        "Élodie",
        "Ébert",
        "member",
        "active",
        "org_a",
        now,
        now - 4000,
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
      // The admin's photo, shown; and a photo of the user deleted since.
      upload.bind(
        "a0000000-0000-4000-8000-000000000005",
        admin,
        "image",
        "profile_picture",
        "ready",
        "image/png",
        800,
        now - 7000,
      ),
      upload.bind(
        "a0000000-0000-4000-8000-000000000006",
        "44444444-4444-4444-8444-444444444444",
        "image",
        "profile_picture",
        "ready",
        "image/png",
        700,
        now - 8000,
      ),
    ]);
    await db()
      .prepare("UPDATE users SET profile_picture_upload_id = ? WHERE id = ?")
      .bind("a0000000-0000-4000-8000-000000000005", admin)
      .run();

    const event = db().prepare("INSERT INTO webhook_events (id, event, received_at) VALUES (?, ?, ?)");
    await db().batch([
      event.bind("event_01", "user.created", now - 5000),
      event.bind("event_02", "session.created", now - 4000),
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
        workos_user_id: "user_elodie",
        organization_id: "org_a",
        role: "member",
        state: "active",
        changed_at: now - 4000,
        user_id: "55555555-5555-4555-8555-555555555555",
        user_state: "active",
        last_name_key: "Ébert",
        first_name_key: "Élodie",
        email_key: "elodie@example.fr",
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
        // SQLite's lower() folds ASCII only: the É stays until the hourly job folds it again.
        first_name_key: "Émile",
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
    // The cleanup's dates of garbage: the ready photos no one shows, since their last change (the
    // admin's photo, shown, has none); the deleted user's uploads, their deletion's (its tombstone's
    // last change).
    expect(
      await rows(
        "SELECT id, unreferenced_since, owner_deleted_at FROM uploads WHERE scope = 'profile_picture' ORDER BY id",
      ),
    ).toEqual([
      { id: "a0000000-0000-4000-8000-000000000004", unreferenced_since: now, owner_deleted_at: null },
      { id: "a0000000-0000-4000-8000-000000000005", unreferenced_since: null, owner_deleted_at: null },
      {
        id: "a0000000-0000-4000-8000-000000000006",
        unreferenced_since: now - 8000,
        owner_deleted_at: now - 3000,
      },
    ]);
    // Uploads and processed events come through as they were, with the columns added since defaulted.
    expect(
      await rows(
        "SELECT id, state, size, origin, thumb_sizes FROM uploads WHERE id < 'a0000000-0000-4000-8000-000000000005' ORDER BY id",
      ),
    ).toEqual([
      {
        id: "a0000000-0000-4000-8000-000000000001",
        state: "ready",
        size: 500,
        origin: "upload",
        thumb_sizes: null,
      },
      {
        id: "a0000000-0000-4000-8000-000000000002",
        state: "pending",
        size: 70,
        origin: "upload",
        thumb_sizes: null,
      },
      {
        id: "a0000000-0000-4000-8000-000000000003",
        state: "failed",
        size: 300,
        origin: "upload",
        thumb_sizes: null,
      },
      {
        id: "a0000000-0000-4000-8000-000000000004",
        state: "ready",
        size: 900,
        origin: "upload",
        thumb_sizes: null,
      },
    ]);
    expect(await rows("SELECT id, event, received_at FROM webhook_events ORDER BY id")).toEqual([
      { id: "event_01", event: "user.created", received_at: now - 5000 },
      { id: "event_02", event: "session.created", received_at: now - 4000 },
    ]);
    // The members listed then (active, of an active user) have their search prefixes: every distinct
    // one, 1 to SEARCH_PREFIX_MAX_LENGTH characters, of their four keys, with their sort keys and role.
    const elodie = "55555555-5555-4555-8555-555555555555";
    const prefixesOf = (userId: string, role: string, first: string, last: string, email: string) =>
      [
        ...new Set(
          [first, last, `${first} ${last}`, email].flatMap((key) => {
            const characters = [...key];
            return characters
              .slice(0, SEARCH_PREFIX_MAX_LENGTH)
              .map((_, i) => characters.slice(0, i + 1).join(""));
          }),
        ),
      ]
        .sort()
        .map((prefix) => ({
          organization_id: "org_a",
          prefix,
          last_name_key: last,
          first_name_key: first,
          user_id: userId,
          role,
        }));
    const searchPrefixes = () => rows("SELECT * FROM member_search_prefixes ORDER BY user_id, prefix");
    const adaPrefixes = prefixesOf(admin, "admin", "ada", "lovelace", "ada@example.com");
    expect(adaPrefixes).toHaveLength(15);
    expect(await searchPrefixes()).toEqual([
      ...adaPrefixes,
      ...prefixesOf(elodie, "member", "Élodie", "Ébert", "elodie@example.fr"),
    ]);

    // The users whose keys 0003 folded ASCII-only are recorded, and the hourly job folds them again
    // with the service's rule, on the user, their memberships and so their search prefixes.
    const member = "22222222-2222-4222-8222-222222222222";
    expect(await rows("SELECT user_id FROM search_keys_to_refold ORDER BY user_id")).toEqual([
      { user_id: member },
      { user_id: elodie },
    ]);
    vi.spyOn(console, "log").mockImplementation(() => {});
    await refoldSearchKeys({ ...env, DB: db() });
    expect(await rows(`SELECT first_name_key FROM users WHERE id = '${member}'`)).toEqual([
      { first_name_key: "émile" },
    ]);
    expect(await rows(`SELECT first_name_key FROM memberships WHERE user_id = '${member}'`)).toEqual([
      { first_name_key: "émile" },
    ]);
    expect(await rows("SELECT user_id FROM search_keys_to_refold")).toEqual([]);
    expect(await searchPrefixes()).toEqual([
      ...adaPrefixes,
      ...prefixesOf(elodie, "member", "élodie", "ébert", "elodie@example.fr"),
    ]);
    const columns = await rows<{ name: string }>("SELECT name FROM pragma_table_info('users')");
    expect(columns.map((c) => c.name)).not.toContain("role");
    expect(columns.map((c) => c.name)).not.toContain("organization_id");
    expect(await rows("SELECT count(*) AS n FROM users")).toEqual([{ n: 5 }]);
  });
});
