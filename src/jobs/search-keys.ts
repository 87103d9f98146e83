import { and, eq } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { createDb } from "../db/client";
import { searchKeysToRefold, users } from "../db/schema";
import { userKeys } from "../identity/provisioning";
import { D1Session, isOneOf } from "../lib/d1";

export interface RefoldLimits {
  /** Users read, and written back, per batch (one read and one D1 batch of as many writes), */
  batchSize: number;
  /** in at most this many batches a run. */
  maxBatches: number;
}

/**
 * 10,000 users an hour in 80 subrequests, beside the backlog's 60 on the same cron: a million users
 * with a non-ASCII name take about four days, and each write also moves that user's membership copies
 * (one trigger, by `workos_user_id`).
 */
export const REFOLD_LIMITS: RefoldLimits = { batchSize: 250, maxBatches: 40 };

/**
 * Fold again the sort and search keys of the users migration 0016 recorded (`search_keys_to_refold`),
 * with the service's own rule (`userKeys`: all of Unicode), and forget them. Each batch reads up to
 * `batchSize` of them with their names, then in one D1 batch writes each user's keys, only while the
 * names are still those it read (a user renamed meanwhile had their keys written with the new names),
 * and forgets the batch. Every statement is safe to repeat, and a run that stops early leaves the rest
 * for the next: every batch costs the same, and once none is left a run is one read that finds
 * nothing.
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
    const writes: BatchItem<"sqlite">[] = due.flatMap(({ userId, firstName, lastName, email }) =>
      firstName === null || lastName === null || email === null
        ? []
        : [
            db
              .update(users)
              .set(userKeys({ firstName, lastName, email }))
              .where(
                and(
                  eq(users.id, userId),
                  eq(users.firstName, firstName),
                  eq(users.lastName, lastName),
                  eq(users.email, email),
                ),
              ),
          ],
    );
    const ids = due.map(({ userId }) => userId);
    await db.batch([db.delete(searchKeysToRefold).where(isOneOf(searchKeysToRefold.userId, ids)), ...writes]);
    refolded += writes.length;
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
