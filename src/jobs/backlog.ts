import { and, asc, gt } from "drizzle-orm";
import { createDb } from "../db/client";
import { importDue, users } from "../db/schema";
import { D1Session } from "../lib/d1";
import { type ImportPictureMessage, jobQueue } from "./messages";

export interface BacklogLimits {
  /** Users read per statement, */
  batchSize: number;
  /** and at most this many enqueued per run. */
  maxImports: number;
}

/**
 * 5,000 imports an hour: 10 reads and 50 sends of 100, some 60 subrequests, in an invocation of its
 * own (its own cron), so the cleanup's subrequest budget is not shared. A million users provisioned
 * before imports existed take about eight days; the queue then sees some 1.4 imports a second.
 */
export const BACKLOG_LIMITS: BacklogLimits = { batchSize: 500, maxImports: 5000 };

/**
 * Enqueue what D1 shows is still to do and no request enqueued (an enqueue that failed, users
 * provisioned before imports existed): the imports due, through the partial index that holds only
 * those rows (`users_picture_import_due_idx`), in id order. A user whose import is still in the queue
 * is enqueued again: the consumer does it once either way.
 */
export async function enqueueBacklog(
  env: Env,
  limits: Partial<BacklogLimits> = {},
): Promise<{ imports: number }> {
  const { batchSize, maxImports } = { ...BACKLOG_LIMITS, ...limits };
  const d1 = new D1Session(env.DB, "first-primary");
  const db = createDb(d1.client);
  const queue = jobQueue(env.JOBS, null);
  let after = "";
  let imports = 0;
  while (imports < maxImports) {
    const due = await db
      .select({ id: users.id, workosUserId: users.workosUserId, url: users.workosProfilePictureUrl })
      .from(users)
      .where(and(importDue(users), gt(users.id, after)))
      .orderBy(asc(users.id))
      .limit(Math.min(batchSize, maxImports - imports));
    const messages = due.flatMap(({ workosUserId, url }): ImportPictureMessage[] =>
      url ? [{ type: "import_picture", workosUserId, url }] : [],
    );
    await queue.send(messages);
    imports += messages.length;
    const last = due.at(-1);
    if (!last || due.length < batchSize) break;
    after = last.id;
  }
  console.log(
    JSON.stringify({ level: "info", msg: "backlog enqueued", imports, d1RoundTrips: d1.roundTrips }),
  );
  return { imports };
}
