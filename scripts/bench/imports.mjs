// Imports of WorkOS pictures through the queue: a copy of the 100-user database gets IMPORT_USERS more
// users whose WorkOS picture is a photo served on loopback (the demo photo, 640x480), none imported yet;
// a worker of its own runs the hourly backlog once (`--test-scheduled`), which enqueues them all, and its
// queue consumer imports them, one batch of up to 10 at a time as `wrangler dev` runs queues locally: each
// fetched, checked, made into four WebP sizes and shown. Measured from the cron's request to the last
// import's log line: imports a second, and the worker's CPU per import.
import { cpSync, readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { q } from "./databases.mjs";
import { jobOutcomes, runHourlyUntil } from "./hourly-jobs.mjs";
import { IMPORT_USERS, log, ROOT } from "./options.mjs";
import { seed, startWorker, stopWorker, tail, tmp } from "./workers.mjs";

const PHOTO = readFileSync(path.join(ROOT, "scripts/assets/demo-photo.jpg"));

/** Users whose import is due, each with a picture URL of their own on `origin`. */
function importSeedSql(origin) {
  const now = Date.now();
  return `
WITH RECURSIVE seq(i, h) AS (
  SELECT 1, lower(hex(randomblob(16)))
  UNION ALL SELECT i + 1, lower(hex(randomblob(16))) FROM seq WHERE i < ${IMPORT_USERS}
)
INSERT INTO users (id, workos_user_id, email, email_verified, first_name, last_name, first_name_key,
                   last_name_key, email_key, workos_profile_picture_url, state, created_at, updated_at)
SELECT substr(h,1,8)||'-'||substr(h,9,4)||'-4'||substr(h,14,3)||'-8'||substr(h,18,3)||'-'||substr(h,21,12),
       'user_bench_import_' || i, 'import' || i || '@example.com', 1, 'Import', 'User' || i, 'import',
       'user' || i, 'import' || i || '@example.com', ${q(`${origin}/pictures/`)} || i || '.jpg', 'active',
       ${now}, ${now}
FROM seq;`;
}

export async function measureImports(sourceDir, jwksPort) {
  const pictures = http.createServer((_request, res) =>
    res.writeHead(200, { "content-type": "image/jpeg" }).end(PHOTO),
  );
  await new Promise((resolve) => pictures.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${pictures.address().port}`;
  const dir = path.join(tmp, "state-imports");
  cpSync(sourceDir, dir, { recursive: true });
  await seed(dir, "imports", importSeedSql(origin));
  const worker = await startWorker("imports", dir, jwksPort, ["--test-scheduled"]);
  try {
    const { done, ms, cpuMs } = await runHourlyUntil(worker, {
      outcome: /"outcome":"imported"/,
      count: IMPORT_USERS,
      what: "imported",
      timeoutMs: 10 * 60_000,
    });
    const failed = jobOutcomes(worker, /"outcome":"(retried|dead-lettered)"/);
    log(
      `imports: ${done} in ${ms} ms, ${((done / ms) * 1000).toFixed(1)} a second; ${failed} retried or given up`,
    );
    return { imports: done, ms, perSecond: (done / ms) * 1000, cpuMsPerImport: cpuMs / done, failed };
  } catch (error) {
    throw new Error(`${error.message}\n${tail(worker.logFile)}`);
  } finally {
    await stopWorker(worker);
    pictures.close();
  }
}
