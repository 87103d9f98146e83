// How many bytes a row of each table takes on the 100,000-user database, and so how many users one D1
// database holds. Measured with SQLite's `dbstat` over the database file, read in Node (node:sqlite) once
// the seeding wrangler has exited: each table's pages and those of its indexes, divided by its rows. The
// local file is what D1 keeps too (SQLite's format, 4 KB pages), and D1's size limit is that file's size.
import { readdirSync } from "node:fs";
import path from "node:path";

/**
 * D1's largest database (Workers Paid), which cannot be raised.
 * @see https://developers.cloudflare.com/d1/platform/limits/
 */
export const D1_MAX_DATABASE_BYTES = 10 * 1000 ** 3;

/**
 * What a user brings on the benchmark's database: their row, one membership and one ready photo upload.
 * Processed webhook events are measured too, but they grow with deliveries (a sign-in each), not users.
 */
const PER_USER = { users: 1, memberships: 1, uploads: 1, webhook_events: 0 };

/** The SQLite file of the one D1 database that `wrangler d1 … --local --persist-to dir` keeps. */
export function localDatabaseFile(dir) {
  const objects = path.join(dir, "v3", "d1", "miniflare-D1DatabaseObject");
  const files = readdirSync(objects).filter((name) => name.endsWith(".sqlite") && name !== "metadata.sqlite");
  if (files.length !== 1)
    throw new Error(`expected one D1 database file in ${objects}, found ${files.length}`);
  return path.join(objects, files[0]);
}

/**
 * Rows and bytes of each of `tables` (its own pages, and its indexes' pages), bytes per row, the file's
 * size, and the users one D1 database holds at `PER_USER`'s rows each.
 */
export async function measureStorage(file, tables = Object.keys(PER_USER)) {
  // node:sqlite is still flagged experimental on Node 22 and says so once on stderr; it is Node's own.
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const { page_size: pageSize } = db.prepare("PRAGMA page_size").get();
    const { page_count: pageCount } = db.prepare("PRAGMA page_count").get();
    const bytesOf = db.prepare(
      `SELECT coalesce(sum(d.pgsize), 0) AS bytes FROM dbstat d
       JOIN sqlite_schema s ON s.name = d.name WHERE s.tbl_name = ? AND s.type = ?`,
    );
    const measured = tables.map((table) => {
      const { rows } = db.prepare(`SELECT count(*) AS rows FROM "${table}"`).get();
      const tableBytes = Number(bytesOf.get(table, "table").bytes);
      const indexBytes = Number(bytesOf.get(table, "index").bytes);
      return {
        table,
        rows: Number(rows),
        tableBytes,
        indexBytes,
        bytesPerRow: (tableBytes + indexBytes) / Number(rows),
      };
    });
    const perUser = measured.reduce((sum, t) => sum + t.bytesPerRow * (PER_USER[t.table] ?? 0), 0);
    return {
      pageSize,
      fileBytes: pageSize * pageCount,
      tables: measured,
      bytesPerUser: perUser,
      usersPerDatabase: Math.floor(D1_MAX_DATABASE_BYTES / perUser),
    };
  } finally {
    db.close();
  }
}
