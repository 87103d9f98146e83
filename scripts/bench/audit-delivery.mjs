// Audit events delivered through the queue: a copy of the 100-user database gets AUDIT_EVENTS pending
// events (the demo user's photo changes, none enqueued: as an outage would leave them); a worker of its
// own runs the hourly job once (`--test-scheduled`), which enqueues them all, and its queue consumer
// delivers them to the loopback WorkOS stand-in, one batch of up to 10 at a time as `wrangler dev` runs
// queues locally: each read from D1, posted, and marked delivered. Measured from the cron's request to
// the last delivery's log line: events a second, and the worker's CPU per event.
import { cpSync, readFileSync } from "node:fs";
import path from "node:path";
import { DEMO_USER } from "../dev-keys.mjs";
import { CLK_TCK, workerdTicks } from "./cpu.mjs";
import { q } from "./databases.mjs";
import { request } from "./load.mjs";
import { AUDIT_EVENTS, log, sleep } from "./options.mjs";
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
    const delivered = () =>
      readFileSync(worker.logFile, "utf8")
        .split("\n")
        .filter((line) => line.includes('"msg":"job"') && line.includes('"outcome":"delivered"')).length;
    const ticksBefore = workerdTicks(worker).worker;
    const started = Date.now();
    const res = await request(worker.port, { method: "GET", path: "/__scheduled?cron=47+*+*+*+*" });
    if (res.status !== 200) throw new Error(`the hourly run: ${res.status} ${res.body.slice(0, 200)}`);
    const deadline = started + 5 * 60_000;
    let done = delivered();
    while (done < AUDIT_EVENTS) {
      if (Date.now() > deadline)
        throw new Error(`${done} of ${AUDIT_EVENTS} audit events delivered in 5 minutes`);
      await sleep(100);
      done = delivered();
    }
    const ms = Date.now() - started;
    const cpuMs = ((workerdTicks(worker).worker - ticksBefore) * 1000) / CLK_TCK;
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
