import { and, eq, sql } from "drizzle-orm";
import { createDb } from "../db/client";
import { searchKeysToRefold, users } from "../db/schema";
import { userKeys } from "../identity/provisioning";
import { D1Session, isOneOf, MAX_ATTEMPTS } from "../lib/d1";

export interface RefoldLimits {
  /** Users read, and written back, per batch (one read, then one D1 batch of two statements), */
  batchSize: number;
  /** in at most this many batches a run. */
  maxBatches: number;
}

/**
 * 10,000 users an hour in 80 subrequests and 120 D1 queries (360 if every one is tried three times:
 * `worstCaseRefoldQueries`), beside the audit resend's and the backlog's on the same cron, all inside
 * D1's 1,000 queries an invocation. A million users with a non-ASCII name take about four days, and
 * each user written also moves their membership copies (one trigger, by `workos_user_id`).
 */
export const REFOLD_LIMITS: RefoldLimits = { batchSize: 250, maxBatches: 40 };

/**
 * One statement writing each row's keys onto its user, found by primary key, only while the user's
 * names are still the row's. Each updated row fires `users_updated_copy_to_memberships` as a single
 * UPDATE would.
 */
type KeyRow = { id: string; f: string; l: string; e: string; fk: string; lk: string; ek: string };
const field = (name: keyof KeyRow) => sql<string>`json_extract(j.value, ${sql.raw(`'$.${name}'`)})`;
const writeKeys = (db: ReturnType<typeof createDb>, rows: KeyRow[]) =>
  db
    .update(users)
    .set({ firstNameKey: field("fk"), lastNameKey: field("lk"), emailKey: field("ek") })
    .from(sql`json_each(${JSON.stringify(rows)}) as j`)
    .where(
      and(
        eq(users.id, field("id")),
        eq(users.firstName, field("f")),
        eq(users.lastName, field("l")),
        eq(users.email, field("e")),
      ),
    );

/**
 * The most D1 queries one run can send: per batch, its read, then the batch of its two statements
 * (forget, write), each tried `MAX_ATTEMPTS` times (the D1 layer's retries).
 */
export function worstCaseRefoldQueries(limits: RefoldLimits = REFOLD_LIMITS): number {
  return limits.maxBatches * 3 * MAX_ATTEMPTS;
}

/**
 * Fold again the sort and search keys of the users migration 0016 recorded (`search_keys_to_refold`),
 * with the service's own rule (`userKeys`: all of Unicode), and forget them. Each batch reads up to
 * `batchSize` of them with their names, then in one D1 batch forgets the batch and writes every user's
 * keys in one statement (the rows bound as one JSON value: one query, one bound value, however many
 * users), each only while the names are still those it read (a user renamed meanwhile had their keys
 * written with the new names). Every statement is safe to repeat, and a run that stops early leaves
 * the rest for the next: every batch costs the same, and once none is left a run is one read that
 * finds nothing.
 */
export async function refoldSearchKeys(
  env: Env,
  limits: Partial<RefoldLimits> = {},
): Promise<{ users: number; left: boolean }> {
  const { batchSize, maxBatches } = { ...REFOLD_LIMITS, ...limits };
  const d1 = new D1Session(env.DB, "first-primary");
  const db = createDb(d1.client);
  let refolded = 0;
  // Whether the last batch was full: then more may be left for the next run.
  let left = true;
  for (let batch = 0; left && batch < maxBatches; batch++) {
    const due = await db
      .select({
        userId: searchKeysToRefold.userId,
        firstName: users.firstName,
        lastName: users.lastName,
        email: users.email,
      })
      .from(searchKeysToRefold)
      .leftJoin(users, eq(users.id, searchKeysToRefold.userId))
      .limit(batchSize);
    left = due.length === batchSize;
    if (due.length === 0) break;
    const rows = due.flatMap(({ userId, firstName, lastName, email }) => {
      if (firstName === null || lastName === null || email === null) return [];
      const keys = userKeys({ firstName, lastName, email });
      return [
        {
          id: userId,
          f: firstName,
          l: lastName,
          e: email,
          fk: keys.firstNameKey,
          lk: keys.lastNameKey,
          ek: keys.emailKey,
        },
      ];
    });
    const ids = due.map(({ userId }) => userId);
    const forget = db.delete(searchKeysToRefold).where(isOneOf(searchKeysToRefold.userId, ids));
    await (rows.length === 0 ? forget : db.batch([forget, writeKeys(db, rows)]));
    refolded += rows.length;
  }
  console.log(
    JSON.stringify({
      level: left ? "warn" : "info",
      msg: "search keys refolded",
      users: refolded,
      left,
      d1RoundTrips: d1.roundTrips,
    }),
  );
  return { users: refolded, left };
}
