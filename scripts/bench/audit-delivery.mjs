// Audit events delivered through the queue: a copy of the 100-user database gets AUDIT_EVENTS pending
// events (the demo user's photo changes, none enqueued: as an outage would leave them); a worker of its
// own runs the hourly job once (`--test-scheduled`), which enqueues them all, and its queue consumer
// delivers them to the loopback WorkOS stand-in, one batch of up to 10 at a time as `wrangler dev` runs
// queues locally: each read from D1, posted, and marked delivered. Measured from the cron's request to
// the last delivery's log line: events a second, and the worker's CPU per event.
import { cpSync } from "node:fs";
import path from "node:path";
import { DEMO_USER } from "../dev-keys.mjs";
import { q } from "./databases.mjs";
import { runHourlyUntil } from "./hourly-jobs.mjs";
import { AUDIT_EVENTS, log } from "./options.mjs";
import { auditEventKeys, seed, startWorker, stopWorker, tail, tmp } from "./workers.mjs";

/** Pending events of the demo user's photo changes, each due long ago. */
function auditSeedSql() {
  const now = Date.now();
  return `
WITH RECURSIVE seq(i, h) AS (
  SELECT 1, lower(hex(randomblob(16)))
  UNION ALL SELECT i + 1, lower(hex(randomblob(16))) FROM seq WHERE i < ${AUDIT_EVENTS}
)
INSERT INTO audit_events (id, organization_id, action, occurred_at, actor_workos_user_id, target_workos_user_id,
                          location, user_agent, upload_id, previous_upload_id, via, state, next_attempt_at,
                          created_at)
SELECT substr(h,1,8)||'-'||substr(h,9,4)||'-4'||substr(h,14,3)||'-8'||substr(h,18,3)||'-'||substr(h,21,12),
       ${q(DEMO_USER.org)}, 'profile_picture.updated', ${now} - i, ${q(DEMO_USER.sub)}, ${q(DEMO_USER.sub)},
       '203.0.113.7', 'bench', lower(hex(randomblob(16))), NULL, 'patch', 'pending', 0, ${now} - i
FROM seq;`;
}

export async function measureAuditDelivery(sourceDir, jwksPort) {
  const dir = path.join(tmp, "state-audit");
  cpSync(sourceDir, dir, { recursive: true });
  await seed(dir, "audit", auditSeedSql());
  const keysBefore = auditEventKeys.size;
  const worker = await startWorker("audit", dir, jwksPort, ["--test-scheduled"]);
  try {
    const { done, ms, cpuMs } = await runHourlyUntil(worker, {
      outcome: /"outcome":"delivered"/,
      count: AUDIT_EVENTS,
      what: "audit events delivered",
      timeoutMs: 5 * 60_000,
    });
    const received = auditEventKeys.size - keysBefore;
    log(
      `audit events: ${done} delivered in ${ms} ms, ${((done / ms) * 1000).toFixed(0)} a second; WorkOS got ${received} keys`,
    );
    if (received !== done)
      throw new Error(`${done} delivered, but the WorkOS stand-in got ${received} distinct keys`);
    return { events: done, ms, perSecond: (done / ms) * 1000, cpuMsPerEvent: cpuMs / done };
  } catch (error) {
    throw new Error(`${error.message}\n${tail(worker.logFile)}`);
  } finally {
    await stopWorker(worker);
  }
}
