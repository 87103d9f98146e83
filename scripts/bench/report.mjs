// What a run found: the ratios, the targets each with its verdict, and the report (printed, written to
// bench-results.md, and with --write into BENCHMARKS.md).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { wranglerEnv } from "../lib/local-wrangler.mjs";
import { chunkedPutReport } from "./chunked-put.mjs";
import { initialsReport } from "./initials.mjs";
import { median } from "./load.mjs";
import {
  CLEANUP_STORED,
  CLEANUP_UPLOADS,
  CLEANUP_WEBHOOK_EVENTS,
  CONCURRENCY,
  CPU_NOT_JUDGED_LOCALLY,
  DIAGNOSTIC_SLICE_MS,
  fmt,
  LARGE_PHOTO_NOT_JUDGED_LOCALLY,
  MEMBERS_PAGE,
  MILLION_TOMBSTONES,
  ONE_CALL_RUNS,
  QUEUE_NOT_JUDGED_LOCALLY,
  ROOT,
  ROUNDS,
  SLICE_MS,
  SMALL_USERS,
  TARGETS,
  THUMBNAIL_RUNS,
  WARMUP_MS,
} from "./options.mjs";
import { sendCpuMs } from "./queue-send.mjs";
import { judge, verdictCell } from "./verdict.mjs";
import { run } from "./workers.mjs";

const RESULTS_START = "<!-- bench:results:start -->";
const RESULTS_END = "<!-- bench:results:end -->";

/** The ratios the targets are about, each also paired in time (a round's two slices run back to back). */
export function ratiosOf(results) {
  // When the two views disagree by much, the machine was too busy for the ratio to mean much.
  const paired = (large, small) =>
    median(large.measured.sliceP50s.map((p50, round) => p50 / small.measured.sliceP50s[round]));
  return {
    p50: results.patchLarge.p50 / results.patchSmall.p50,
    p50Paired: paired(results.patchLarge, results.patchSmall),
    listP50: results.listLarge.p50 / results.listSmall.p50,
    listP50Paired: paired(results.listLarge, results.listSmall),
    cpu: results.patchSmall.cpuMs / results.healthz.cpuMs,
    cpuLarge: results.patchLarge.cpuMs / results.healthz.cpuMs,
    meImportedCpu: results.meImported.cpuMs / results.me.cpuMs,
    meInitialsCpu: results.meInitials.cpuMs / results.me.cpuMs,
    auditCpu: results.patchSmall.cpuMs / results.patchNoAudit.cpuMs,
    queueSendMs: sendCpuMs(results),
    auditCpuLessSend: (results.patchSmall.cpuMs - sendCpuMs(results)) / results.patchNoAudit.cpuMs,
    listInitialsCpu: results.listSmall.cpuMs / results.listPhotos.cpuMs,
  };
}

/** [target, measured, met, why it does not gate (absent: it gates)] for each target. */
export function targetChecks({ results, ratios, jwks, plans, oneCall, rowsRead }) {
  const errors = Object.values(results).reduce((sum, r) => sum + r.errors, 0);
  const patchD1 = Math.max(results.patchSmall.d1, results.patchLarge.d1, results.patchIfMatch.d1);
  const listD1 = [results.listSmall.d1, results.listLarge.d1, results.listPhotos.d1];
  const meReads = [results.me, results.meImported, results.meInitials];
  return [
    [
      `D1 round trips, GET /users/me = ${TARGETS.meD1} (custom photo / imported WorkOS picture / initials)`,
      meReads.map((r) => fmt(r.d1, 2)).join(" / "),
      meReads.every((r) => r.d1 === TARGETS.meD1),
    ],
    [
      `GET /users/me worker CPU with an avatar ≤ ${TARGETS.avatarCpuRatio}x with a custom photo (imported / initials)`,
      `${fmt(ratios.meImportedCpu, 2)}x / ${fmt(ratios.meInitialsCpu, 2)}x`,
      Math.max(ratios.meImportedCpu, ratios.meInitialsCpu) <= TARGETS.avatarCpuRatio,
    ],
    [
      `members page worker CPU, 50 initials avatars ≤ ${TARGETS.avatarCpuRatio}x 50 custom photos`,
      `${fmt(ratios.listInitialsCpu, 2)}x`,
      ratios.listInitialsCpu <= TARGETS.avatarCpuRatio,
    ],
    [
      `D1 round trips, PATCH ≤ ${TARGETS.patchD1} (100 users / 100k users / with If-Match)`,
      [results.patchSmall, results.patchLarge, results.patchIfMatch].map((r) => fmt(r.d1, 2)).join(" / "),
      patchD1 <= TARGETS.patchD1,
    ],
    [
      `D1 round trips, members list page = ${TARGETS.listD1} (100 / 100k members / every member with a photo)`,
      listD1.map((d) => fmt(d, 2)).join(" / "),
      listD1.every((d) => d === TARGETS.listD1),
    ],
    [
      `JWKS fetches ≤ ${TARGETS.jwksPerIsolate} per isolate`,
      `${jwks.small} / ${jwks.large}`,
      Math.max(jwks.small, jwks.large) <= TARGETS.jwksPerIsolate,
    ],
    [
      `PATCH worker CPU writing its audit event, less the local queue's CPU for one send, ≤ ${TARGETS.auditCpuRatio}x the same PATCH writing none (a token without org_id)`,
      `${fmt(ratios.auditCpuLessSend, 2)}x`,
      ratios.auditCpuLessSend <= TARGETS.auditCpuRatio,
    ],
    [
      `PATCH worker CPU writing and enqueuing its audit event ≤ ${TARGETS.auditCpuRatio}x the same PATCH writing none`,
      `${fmt(ratios.auditCpu, 2)}x`,
      ratios.auditCpu <= TARGETS.auditCpuRatio,
      QUEUE_NOT_JUDGED_LOCALLY,
    ],
    [
      "D1 round trips, PATCH with its audit event = 1",
      fmt(results.patchSmall.d1, 2),
      results.patchSmall.d1 === 1,
    ],
    [
      `PATCH CPU ≤ ${TARGETS.cpuRatio}x GET /healthz CPU`,
      `${fmt(ratios.cpu, 2)}x`,
      ratios.cpu <= TARGETS.cpuRatio,
      CPU_NOT_JUDGED_LOCALLY,
    ],
    [
      `PATCH p50 at 100k users ≤ ${TARGETS.p50Ratio}x p50 at 100`,
      `${fmt(ratios.p50, 2)}x`,
      ratios.p50 <= TARGETS.p50Ratio,
    ],
    [
      `members list p50 at 100k members ≤ ${TARGETS.p50Ratio}x p50 at 100`,
      `${fmt(ratios.listP50, 2)}x`,
      ratios.listP50 <= TARGETS.p50Ratio,
    ],
    [
      "every lookup indexed (no SCAN, no temp B-tree for ORDER BY)",
      plans.every((p) => p.indexed) ? "yes" : "no",
      plans.every((p) => p.indexed),
    ],
    ["no errors (any phase)", String(errors), errors === 0],
    ...oneCallChecks(oneCall),
    ...rowsReadChecks(rowsRead),
  ];
}

/**
 * Rows read: each request the same at a million users as at a hundred (within `rowsReadSlack`), a
 * members page about `2 x limit` at most whatever its search (two rows an entry of the `limit + 1` it
 * reads, the extra one telling whether a next page exists, and the caller's own); an idle cleanup run a few hundred at
 * most, and one with 10,000 garbage uploads about the same at both sizes; and a cleanup invocation's
 * most queries, with retries, within D1's limit.
 */
function rowsReadChecks({ statements, small, million, limits }) {
  const slack = TARGETS.rowsReadSlack;
  const pages = statements.filter((s) => s.key.startsWith("page"));
  const pageMax = 2 * (MEMBERS_PAGE + 1) + slack;
  const read = (db, key) => db.requests[key].rowsRead;
  return [
    ...statements.map((s) => [
      `rows read at 1M users ≤ at 100 + ${slack}: ${s.name}`,
      `${read(million, s.key)} / ${read(small, s.key)}`,
      read(million, s.key) <= read(small, s.key) + slack,
    ]),
    [
      `rows read, a members page ≤ 2 x (${MEMBERS_PAGE} + 1) + ${slack} at 1M users (every page above)`,
      pages.map((s) => String(read(million, s.key))).join(" / "),
      pages.every((s) => read(million, s.key) <= pageMax),
    ],
    [
      `rows read, an idle cleanup run ≤ ${TARGETS.idleCleanupRowsRead} at 1M users, and ≤ at 100 + ${slack}`,
      `${million.idleCleanup.rowsRead} / ${small.idleCleanup.rowsRead}`,
      million.idleCleanup.rowsRead <= TARGETS.idleCleanupRowsRead &&
        million.idleCleanup.rowsRead <= small.idleCleanup.rowsRead + slack,
    ],
    [
      `rows read, a cleanup run with ${CLEANUP_UPLOADS.toLocaleString("en-US")} garbage uploads at 1M users ≤ at 100 + 1%`,
      `${million.garbageCleanup.rowsRead} / ${small.garbageCleanup.rowsRead}`,
      million.garbageCleanup.rowsRead <= small.garbageCleanup.rowsRead * 1.01 + slack,
    ],
    [
      `D1 queries of one cleanup invocation at most, every one tried 3 times ≤ ${limits.queriesPerInvocation}`,
      String(limits.worstCaseQueries),
      limits.worstCaseQueries <= limits.queriesPerInvocation,
    ],
  ];
}

/** What D1 read, per request and per cleanup run, at a hundred users and at a million. */
function rowsReadReport({ statements, small, million, seedSeconds, limits }) {
  const cell = (db, key) => `${db.requests[key].rowsRead} (${db.requests[key].rows} rows)`;
  const run = (result) => `${result.rowsRead} (${result.roundTrips} round trips)`;
  return [
    "Rows read (`meta.rows_read`, what D1 reports per statement and bills), of each request's one statement (the PATCH's audit event is the second of its batch) and of " +
      "one storage cleanup run, on a copy of the 100-user database and on the 100,000-user one grown to a million " +
      `users, each with a photo in use, 100,000 of them the demo organization's members, and ${MILLION_TOMBSTONES.toLocaleString("en-US")} ` +
      `tombstones (grown in ${fmt(seedSeconds, 0)} s); the statements are the service's own, run by a stand-in worker (\`rows-read-worker.ts\`):`,
    "",
    "| what | 100 users | 1,000,000 users |",
    "| --- | ---: | ---: |",
    ...statements.map((s) => `| ${s.name} | ${cell(small, s.key)} | ${cell(million, s.key)} |`),
    `| storage cleanup, nothing to delete | ${run(small.idleCleanup)} | ${run(million.idleCleanup)} |`,
    `| storage cleanup, ${CLEANUP_UPLOADS.toLocaleString("en-US")} garbage uploads | ${run(small.garbageCleanup)} | ${run(million.garbageCleanup)} |`,
    "",
    `One cleanup invocation sends at most ${limits.worstCaseQueries} D1 queries, every statement tried 3 times (D1's limit: ` +
      `${limits.queriesPerInvocation} an invocation), and makes at most ${limits.worstCaseSubrequests} subrequests (\`worstCaseQueries\`, ` +
      "`worstCaseSubrequests` in `src/jobs/storage-cleanup.ts`).",
  ];
}

/**
 * The one-call PUT: its D1 round trips, and its time against the four calls' per photo. The large
 * photo's is reported but does not gate (`LARGE_PHOTO_NOT_JUDGED_LOCALLY`).
 */
function oneCallChecks({ photos, results }) {
  const ratio = (key) => results[key].oneCall.ms / results[key].fourCalls.ms;
  return [
    [
      `D1 round trips, one-call PUT = ${TARGETS.oneCallD1} (${photos.map((p) => p.key).join(" / ")} photo)`,
      photos.map((p) => String(results[p.key].oneCall.d1)).join(" / "),
      photos.every((p) => results[p.key].oneCall.d1 === TARGETS.oneCallD1),
    ],
    ...photos.map((p) => [
      `one-call PUT takes less time than the four calls, ${p.key} photo`,
      `${fmt(ratio(p.key), 2)}x`,
      ratio(p.key) < 1,
      ...(p.key === "large" ? [LARGE_PHOTO_NOT_JUDGED_LOCALLY] : []),
    ]),
  ];
}

export async function machineInfo(workerdExe) {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const output = async (cmd, args) =>
    (await run(cmd, args, { cwd: ROOT, env: wranglerEnv }).catch(() => ({ stdout: "?" }))).stdout.trim();
  return {
    nproc: await output("nproc", []),
    model: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? "unknown",
    memoryGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    load: os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(", "),
    date: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    node: process.version,
    wrangler: await output("wrangler", ["--version"]),
    workerd: (await output(workerdExe, ["--version"])).replace(/^workerd\s*/, ""),
  };
}

export function renderReport({
  machine,
  results,
  ratios,
  jwks,
  checks,
  plans,
  counts,
  cleanup,
  storage,
  thumbnails,
  oneCall,
  imports,
  auditDelivery,
  initials,
  rowsRead,
  chunkedPut,
}) {
  const { healthz, me, meImported, meInitials, patchSmall, patchLarge, patchIfMatch } = results;
  const { listSmall, listLarge, listPhotos, patchRefused, patchNoAudit } = results;
  const row = (r) =>
    `| ${r.name} | ${r.users.toLocaleString("en-US")} | ${r.requests} | ${fmt(r.rps, 0)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.errors} | ${fmt(r.cpuMs, 3)} | ${fmt(r.proxyCpuMs, 3)} | ${fmt(r.d1, 2)} |`;
  const ladder = [
    [healthz, "`GET /healthz`", "the floor: routing, request id, security headers, CORS, one log line"],
    [
      meInitials,
      "`GET /users/me`, initials",
      "RS256 verification (jose, WebCrypto), the caller lookup (1 D1 read), the profile JSON, the initials image's signed name (cached)",
    ],
    [me, "`GET /users/me`, custom photo", "a presigned thumbnail URL (signed once per window, then cached)"],
    [
      patchRefused,
      "`PATCH`, body refused (422)",
      "RS256 verification, the per-caller write limit (a Rate Limiting binding call), the JSON gate and validation; no D1",
    ],
    [
      patchSmall,
      "`PATCH` profile-picture",
      "the conditional UPDATE and its audit event (one batch, its only D1 round trip), the event enqueued, a presigned URL, the profile JSON",
    ],
  ];
  return [
    `Machine: ${machine.nproc} cores (${machine.model}), ${machine.memoryGiB} GiB RAM, load average ${machine.load} at the end ` +
      `(shared with other work). Date: ${machine.date}. Node ${machine.node}, wrangler ${machine.wrangler}, workerd ${machine.workerd}.`,
    "",
    `Load: ${CONCURRENCY} concurrent keep-alive connections over loopback; after a ${WARMUP_MS / 1000} s warm-up per phase, ` +
      `${ROUNDS} rounds in which every phase runs ${SLICE_MS / 1000} s in turn (${(ROUNDS * SLICE_MS) / 1000} s each in all). Worker CPU is utime+stime of the workerd ` +
      "process that runs the worker, which also runs local D1's SQLite; proxy CPU is wrangler dev's second workerd, in front of it.",
    "",
    "| phase | users | requests | req/s | p50 ms | p99 ms | errors | worker CPU ms/req | proxy CPU ms/req | D1 round trips/req |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...[
      healthz,
      me,
      meImported,
      meInitials,
      patchSmall,
      patchNoAudit,
      patchLarge,
      patchIfMatch,
      listSmall,
      listLarge,
      listPhotos,
    ].map(row),
    "",
    `- PATCH p50 at ${Number(counts.users).toLocaleString("en-US")} users / at ${SMALL_USERS} users: **${fmt(ratios.p50, 2)}x** ` +
      `(median of the ${ROUNDS} per-round ratios of back-to-back slices: ${fmt(ratios.p50Paired, 2)}x)`,
    `- Members list p50 at ${Number(counts.members).toLocaleString("en-US")} members / at ${SMALL_USERS} members: **${fmt(ratios.listP50, 2)}x** ` +
      `(per-round median: ${fmt(ratios.listP50Paired, 2)}x); each request alternates the first page and the page after it`,
    `- PATCH worker CPU / \`GET /healthz\` worker CPU: **${fmt(ratios.cpu, 2)}x** (${fmt(ratios.cpuLarge, 2)}x for the PATCH at 100k)`,
    `- Avatars: \`GET /users/me\` worker CPU with an imported WorkOS picture / with initials, against the same read with a custom ` +
      `photo (whose avatar is its presigned thumbnail, as before there were avatars): **${fmt(ratios.meImportedCpu, 2)}x / ` +
      `${fmt(ratios.meInitialsCpu, 2)}x**; a members page of ${MEMBERS_PAGE} initials avatars against a page of ${MEMBERS_PAGE} ` +
      `custom photos: **${fmt(ratios.listInitialsCpu, 2)}x**; every one of them ${fmt(Math.max(me.d1, meImported.d1, meInitials.d1, listSmall.d1, listPhotos.d1), 0)} D1 round trip`,
    `- Imports of WorkOS pictures through the queue (a worker of its own, ${imports.imports} users enqueued by one run of the ` +
      `hourly backlog, each picture the 640x480 demo photo on loopback, fetched, checked, made into four WebP sizes and ` +
      `shown; local queues deliver one batch of up to 10 at a time): **${fmt(imports.perSecond, 1)} imports/s** ` +
      `(${imports.imports} in ${imports.ms} ms, ${fmt(imports.cpuMsPerImport, 1)} ms of worker CPU each; ${imports.failed} retried or given up)`,
    `- Audit trail: PATCH worker CPU writing the change's audit event in its batch and enqueuing it, against the same PATCH ` +
      `under a token without \`org_id\` (no audit log, so neither): **${fmt(ratios.auditCpu, 2)}x** ` +
      `(${fmt(patchSmall.cpuMs, 3)} / ${fmt(patchNoAudit.cpuMs, 3)} ms), ${fmt(patchSmall.d1, 0)} D1 round trip; the load phases' ` +
      "workers consume no queue, so no delivery runs in the process measured. Of that, one send costs the local " +
      `queue's broker, inside the same process, **${fmt(ratios.queueSendMs, 2)} ms** (a stand-in worker's request ` +
      "sending one message with the service's `jobQueue`, less its request sending none, both diagnostic phases " +
      "interleaved with the PATCH's under the same load), which production moves to the Queues service: " +
      `less it, **${fmt(ratios.auditCpuLessSend, 2)}x**`,
    `- Audit events through the queue (a worker of its own, ${auditDelivery.events} pending events enqueued by one run of the ` +
      "hourly job, each read from D1, posted to a loopback WorkOS stand-in and marked delivered; local queues deliver one " +
      `batch of up to 10 at a time): **${fmt(auditDelivery.perSecond, 0)} events/s** (${auditDelivery.events} in ` +
      `${auditDelivery.ms} ms, ${fmt(auditDelivery.cpuMsPerEvent, 2)} ms of worker CPU each)`,
    `- JWKS fetches, from a loopback stand-in (WORKOS_JWKS_URL set, WORKOS_JWKS empty): **${jwks.small}** by the 100-user worker, ` +
      `**${jwks.large}** by the 100k worker, over the whole run (${jwks.warmup.get("small") ?? 0} and ${jwks.warmup.get("large") ?? 0} of them in the warm-up)`,
    `- Large database: ${counts.users} users, all ${counts.members} of them members of one organization, ${counts.uploads} uploads`,
    `- Storage cleanup, one scheduled run on a copy of the 100-user database with ${CLEANUP_UPLOADS.toLocaleString("en-US")} garbage ` +
      `uploads (${CLEANUP_STORED} of them with every object in local R2): **${fmt(cleanup.rowsPerSecond, 0)} rows/s** ` +
      `(${cleanup.rows} rows and ${cleanup.objects} R2 keys deleted in ${cleanup.uploadsMs} ms, ${cleanup.rounds} rounds of ` +
      `at most ${cleanup.batchSize} per kind); then, in the same run, **${fmt(cleanup.webhookEventsPerSecond, 0)} webhook event ids/s** ` +
      `forgotten (${cleanup.webhookEvents.toLocaleString("en-US")} of ${CLEANUP_WEBHOOK_EVENTS.toLocaleString("en-US")} received 60 days before, in ` +
      `${cleanup.webhookEventsMs} ms); ${cleanup.d1RoundTrips} D1 round trips in all` +
      `${Object.keys(cleanup.left).length ? `; left: ${JSON.stringify(cleanup.left)}` : ", nothing left"}`,
    "",
    ...thumbnailsReport(thumbnails),
    "",
    ...oneCallReport(oneCall),
    "",
    "| target | measured | verdict |",
    "| --- | --- | --- |",
    ...checks.map((check) => `| ${check[0]} | ${check[1]} | ${verdictCell(check)} |`),
    ...judge(checks).notGating.flatMap(([name, , , why]) => ["", `Not gating locally: ${name}: ${why}.`]),
    "",
    "Where the worker's CPU goes, 100-user worker: each step names what it does beyond `GET /healthz` " +
      `(steps 2 and 4 are diagnostic phases, ${ROUNDS} x ${DIAGNOSTIC_SLICE_MS / 1000} s, interleaved with the others; differences ` +
      "under about 0.2 ms are within run-to-run noise on a shared machine):",
    "",
    "| step | adds | worker CPU ms/req | added |",
    "| --- | --- | ---: | ---: |",
    ...ladder.map(
      ([r, name, adds], i) =>
        `| ${i + 1}. ${name} | ${adds} | ${fmt(r.cpuMs, 3)} | ${i ? fmt(r.cpuMs - ladder[i - 1][0].cpuMs, 3) : ""} |`,
    ),
    "",
    `The PATCH costs ${fmt(patchSmall.cpuMs - healthz.cpuMs, 2)} ms above the floor: ` +
      `${fmt(patchRefused.cpuMs - healthz.cpuMs, 2)} ms before it reaches D1 (token, write limiter, body; step 4) and ` +
      `${fmt(patchSmall.cpuMs - patchRefused.cpuMs, 2)} ms for its one D1 write and the answer (step 5 - step 4). ` +
      "Locally, D1's SQLite and the Rate Limiting binding run inside the worker's own workerd process, so their CPU is " +
      "counted here; in production both run outside the worker and only its side of each call is.",
    "",
    "Storage on the 100k database (SQLite's `dbstat` over its file: each table's pages and its indexes', per row; " +
      "D1's 10 GB limit is on that file):",
    "",
    "| table | rows | table MB | indexes MB | bytes a row, indexes included |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...storage.tables.map(
      (t) =>
        `| ${t.table} | ${t.rows.toLocaleString("en-US")} | ${fmt(t.tableBytes / 1e6, 1)} | ${fmt(t.indexBytes / 1e6, 1)} | ${fmt(t.bytesPerRow, 0)} |`,
    ),
    "",
    `A user with one membership and one photo upload: **${fmt(storage.bytesPerUser, 0)} bytes**, so one D1 database ` +
      `(10 GB) holds about **${(storage.usersPerDatabase / 1e6).toFixed(1)} million** such users ` +
      `(the whole file: ${fmt(storage.fileBytes / 1e6, 1)} MB for ${Number(counts.users).toLocaleString("en-US")} users). ` +
      "Processed webhook events are not counted per user: they grow with every delivery (a `session.created` a sign-in).",
    "",
    "Query plans (`EXPLAIN QUERY PLAN` on the 100k database):",
    "",
    ...plans.flatMap((p) => [
      `- ${p.name}: ${p.indexed ? "indexed" : "**NOT INDEXED**"}`,
      ...p.detail.map((d) => `  - \`${d}\``),
    ]),
    "",
    ...initialsReport(initials),
    "",
    ...rowsReadReport(rowsRead),
    "",
    ...chunkedPutReport(chunkedPut),
  ].join("\n");
}

/** complete's thumbnails: its time through the API, and the thumbnail step made each way, with its CPU and memory. */
function thumbnailsReport({ photos, complete, ways }) {
  const [one, sequential] = ways;
  const cell = (values) => photos.map((p) => fmt(values(p.key), 0)).join(" / ");
  return [
    `\`complete\`'s thumbnails, on a small and a large photo (${photos.map((p) => `${p.key}: ${p.what}`).join("; ")}), ` +
      `median of ${THUMBNAIL_RUNS} runs after a warm-up, small / large:`,
    "",
    `- \`complete\` through the API, four sizes (the service): **${cell((k) => complete[k])} ms**; with one size, as before, ` +
      `about ${cell((k) => complete[k] - sequential.results[k].ms + one.results[k].ms)} ms (its thumbnail step swapped for the one-size step below)`,
    "",
    "The thumbnail step alone (the service's `makeThumbnails` and `storeThumbnails` in a stand-in worker, a fresh `wrangler dev` " +
      "for each way; locally the Images binding is sharp in wrangler's Node process, standing in for Cloudflare Images; peak " +
      "memory is the process's high-water mark above where it started, the large photo's runs setting it):",
    "",
    "| thumbnails | ms | worker CPU ms | local Images CPU ms | worker peak MiB | local Images peak MiB |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...ways.map(
      (way) =>
        `| ${way.name}${way === sequential ? " (the service)" : ""} | ${cell((k) => way.results[k].ms)} | ` +
        `${cell((k) => way.results[k].workerCpuMs)} | ${cell((k) => way.results[k].imagesCpuMs)} | ` +
        `${fmt(way.workerPeakMiB, 0)} | ${fmt(way.imagesPeakMiB, 0)} |`,
    ),
  ];
}

/** The one-call PUT against the four calls, per photo: time, requests, D1 round trips, and the four calls by step. */
function oneCallReport({ photos, results }) {
  const cell = (value) => photos.map((p) => fmt(value(results[p.key]), 0)).join(" / ");
  const count = (value) => [...new Set(photos.map((p) => value(results[p.key])))].join(" / ");
  const step = (name) => cell((r) => r.fourCalls.steps[name]);
  return [
    `The one-call PUT against the four calls it replaces, for the same photo (${photos.map((p) => `${p.key}: ${p.what}`).join("; ")}), ` +
      `on the 100-user worker once its load phases are over, median of ${ONE_CALL_RUNS} runs of each after a warm-up, the two ways ` +
      "alternating; from the first byte sent to the profile set, small / large:",
    "",
    "| way | HTTP requests | D1 round trips | ms |",
    "| --- | ---: | ---: | ---: |",
    `| four calls: create, PUT to the presigned URL, complete, PATCH | ${count((r) => r.fourCalls.requests)} | ${count((r) => r.fourCalls.d1)} | ${cell((r) => r.fourCalls.ms)} |`,
    `| one call: \`PUT /api/v1/users/me/profile-picture\` | ${count((r) => r.oneCall.requests)} | ${count((r) => r.oneCall.d1)} | ${cell((r) => r.oneCall.ms)} |`,
    "",
    `- One call / four calls: **${photos.map((p) => `${fmt(results[p.key].oneCall.ms / results[p.key].fourCalls.ms, 2)}x`).join(" / ")}**`,
    `- The four calls by step: create ${step("create")} ms, PUT ${step("put")} ms, complete ${step("complete")} ms, PATCH ${step("patch")} ms`,
  ];
}

/** Put the report into BENCHMARKS.md's "Latest results" section (--write). */
export function writeBenchmarks(report) {
  const file = path.join(ROOT, "BENCHMARKS.md");
  const section = `${RESULTS_START}\n## Latest results\n\n${report}\n${RESULTS_END}`;
  const current = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const start = current.indexOf(RESULTS_START);
  const end = current.indexOf(RESULTS_END);
  const next =
    start >= 0 && end > start
      ? `${current.slice(0, start)}${section}${current.slice(end + RESULTS_END.length)}`
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
  // The repository's formatter aligns markdown tables; keep `npm run check` green after a run.
  return run("biome", ["format", "--write", file], { cwd: ROOT, env: wranglerEnv }).catch(() => {});
}
