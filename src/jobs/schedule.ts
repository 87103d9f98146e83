import { resendAuditEvents } from "./audit-events";
import { enqueueBacklog } from "./backlog";
import { refoldSearchKeys } from "./search-keys";
import { cleanUpStorage } from "./storage-cleanup";

/**
 * The hourly jobs, on two crons (`[triggers]` in wrangler.toml): the storage cleanup has an invocation
 * and the platform's limits to itself (it uses most of its 1,000 subrequests); the jobs that enqueue
 * or redo work D1 shows is left share the other.
 */
export const CRONS = {
  storageCleanup: "17 * * * *",
  backlog: "47 * * * *",
} as const;

/** What a cron runs. A cron this worker does not know is a deploy out of step with its code: it fails loudly. */
export async function runScheduled(cron: string, env: Env, now: Date): Promise<void> {
  switch (cron) {
    case CRONS.storageCleanup:
      await cleanUpStorage(env, now);
      return;
    case CRONS.backlog:
      // Each runs whatever the others do: an import backlog that fails must not hold up audit events.
      await allSettled([
        () => resendAuditEvents(env, now),
        () => enqueueBacklog(env),
        // Also work D1 shows is still to do: the search keys SQLite folded ASCII-only (migration 0016).
        () => refoldSearchKeys(env),
      ]);
      return;
    default:
      throw new Error(`no job runs on cron ${JSON.stringify(cron)}`);
  }
}

/**
 * Runs each job in turn, every one of them whatever the others did; then throws what failed: the one
 * failure, or all of them together (`AggregateError`), so none goes unreported.
 */
async function allSettled(jobs: (() => Promise<unknown>)[]): Promise<void> {
  const failures: unknown[] = [];
  for (const job of jobs) {
    try {
      await job();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    const messages = failures.map((failure) =>
      failure instanceof Error ? failure.message : String(failure),
    );
    throw new AggregateError(failures, `${failures.length} hourly jobs failed: ${messages.join("; ")}`);
  }
}
