import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import {
  D1_MAX_DATABASE_BYTES,
  localDatabaseFile,
  measureStorage,
} from "../../scripts/bench/storage-size.mjs";

const dir = mkdtempSync(path.join(tmpdir(), "bench-storage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A database laid out as wrangler keeps a local D1 one, beside the metadata file it keeps too. */
function localD1(rows: number): string {
  const objects = path.join(dir, "v3", "d1", "miniflare-D1DatabaseObject");
  mkdirSync(objects, { recursive: true });
  writeFileSync(path.join(objects, "metadata.sqlite"), "");
  const file = path.join(objects, "0123abcd.sqlite");
  const db = new DatabaseSync(file);
  db.exec(`
    CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL);
    CREATE TABLE memberships (user_id TEXT NOT NULL, org TEXT NOT NULL, PRIMARY KEY (user_id, org));
    CREATE TABLE uploads (id TEXT PRIMARY KEY, owner_id TEXT NOT NULL);
    CREATE INDEX uploads_owner_idx ON uploads (owner_id);
    CREATE TABLE webhook_events (id TEXT PRIMARY KEY, event TEXT NOT NULL);
    WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ${rows})
    INSERT INTO users SELECT lower(hex(randomblob(16))), 'user' || i || '@example.com' FROM seq;
    INSERT INTO memberships SELECT id, 'org_1' FROM users;
    INSERT INTO uploads SELECT lower(hex(randomblob(16))), id FROM users;
    INSERT INTO webhook_events SELECT 'event_' || id, 'session.created' FROM users;
  `);
  db.close();
  return file;
}

describe("the benchmark's storage per row (scripts/bench/storage-size.mjs)", () => {
  it("counts each table's pages and its indexes', per row, and the users a 10 GB database holds", async () => {
    const file = localD1(2000);
    expect(localDatabaseFile(dir)).toBe(file);

    const storage = await measureStorage(file);

    const byTable = Object.fromEntries(storage.tables.map((t) => [t.table, t]));
    for (const table of ["users", "memberships", "uploads", "webhook_events"]) {
      expect(byTable[table]?.rows).toBe(2000);
      expect(byTable[table]?.indexBytes).toBeGreaterThan(0);
    }
    // Every page but the schema's belongs to one of the three tables or their indexes.
    const counted = storage.tables.reduce((sum, t) => sum + t.tableBytes + t.indexBytes, 0);
    expect(counted).toBe(storage.fileBytes - storage.pageSize);
    expect(byTable.users?.bytesPerRow).toBe(
      ((byTable.users?.tableBytes ?? 0) + (byTable.users?.indexBytes ?? 0)) / 2000,
    );
    // A user brings one row of each table but the events, which grow with deliveries.
    const events = byTable.webhook_events;
    expect(storage.bytesPerUser).toBeCloseTo(
      (counted - (events?.tableBytes ?? 0) - (events?.indexBytes ?? 0)) / 2000,
      6,
    );
    expect(storage.usersPerDatabase).toBe(Math.floor(D1_MAX_DATABASE_BYTES / storage.bytesPerUser));
  });
});
