// `npm run bench`: a bounded load benchmark of the worker on the runtime `wrangler dev` uses (workerd with
// local D1/R2), driven over loopback from this process. Two workers run side by side from copies of one
// database, 100 users and 100,000 users, and the phases are measured in interleaved slices, round-robin:
// this machine is shared, and interleaving spreads whatever else runs on it evenly over every phase, so
// the ratios compare like with like. Prints, and writes to bench-results.md (git-ignored; with --write
// into BENCHMARKS.md too), per phase: requests/s, p50 and p99 latency, errors, workerd CPU ms and D1
// round trips per request; the ratios, JWKS fetches, a CPU breakdown, the query plans, a verdict per
// target, how long `complete` takes with four thumbnail sizes against one, the one-call PUT's time
// against the four calls it replaces, how many garbage uploads
// one run of the storage cleanup clears per second, and the bytes a row of each table takes on the
// 100,000-user database. Exit code: 0
// every gating target met, 1 one failed, 2 a bad command line, 3 it could not measure; `--help` for the
// options. Everything it starts dies with it.
//
// The parts: options.mjs (command line, constants), workers.mjs (temp state, JWKS stand-in, wrangler),
// databases.mjs (seed data), plans.mjs (query plans of the service's own statements), load.mjs (phases
// and slices), cpu.mjs (workerd CPU), photos.mjs (the photos uploaded), upload-flows.mjs (four calls
// or one, as a client makes them), thumbnails.mjs and thumbnails-worker.ts (complete's thumbnails),
// one-call.mjs (the one-call PUT against the four calls), storage-cleanup.mjs (the cron's
// throughput), storage-size.mjs (bytes per row), rows-read.mjs and rows-read-worker.ts (D1's rows
// read at a hundred and a million users), imports.mjs, audit-delivery.mjs and hourly-jobs.mjs (the
// queue's work after one hourly run), queue-send.mjs and queue-send-worker.ts (one send's local CPU), initials.mjs and initials-worker.ts (CPU per initials image),
// chunked-put.mjs (the one-call PUT's peak memory), report.mjs and verdict.mjs (targets, report, exit code).
import { cpSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DEMO_USER, devToken } from "../dev-keys.mjs";
import { measureAuditDelivery } from "./audit-delivery.mjs";
import { measureChunkedPut } from "./chunked-put.mjs";
import {
  callerUploads,
  IMPORTED,
  largeSeedSql,
  PHOTOS_ORG,
  PLAIN,
  smallSeedSql,
  VIEWER,
  viewerUpload,
} from "./databases.mjs";
import { measureImports } from "./imports.mjs";
import { measureInitials } from "./initials.mjs";
import { load, measurable, request, slice, summarize } from "./load.mjs";
import { measureOneCall } from "./one-call.mjs";
import {
  AUDIT_EVENTS,
  CALLER_UPLOADS,
  CLEANUP_STORED,
  CLEANUP_UPLOADS,
  DIAGNOSTIC_SLICE_MS,
  fmt,
  IMPORT_USERS,
  log,
  MEMBERS_PAGE,
  options,
  ROOT,
  ROUNDS,
  SLICE_MS,
  SMALL_USERS,
  WARMUP_MS,
} from "./options.mjs";
import { photos } from "./photos.mjs";
import { inspectLargeDatabase } from "./plans.mjs";
import { queueSendPhases, startQueueSender } from "./queue-send.mjs";
import { machineInfo, ratiosOf, renderReport, targetChecks, writeBenchmarks } from "./report.mjs";
import { measureRowsRead } from "./rows-read.mjs";
import { measureCleanup } from "./storage-cleanup.mjs";
import { localDatabaseFile, measureStorage } from "./storage-size.mjs";
import { measureThumbnails } from "./thumbnails.mjs";
import { BENCH_EXIT, judge } from "./verdict.mjs";
import {
  d1,
  jwksHits,
  keyDir,
  producerOnlyConfig,
  seed,
  startJwksServer,
  startWorker,
  stopWorker,
  tail,
  tmp,
  workers,
} from "./workers.mjs";

/** The latest run's report, git-ignored; BENCHMARKS.md changes only with --write. */
const LATEST_RESULTS = path.join(ROOT, "bench-results.md");
const started = Date.now();

/** Both databases, both workers, and the large database's row counts and query plans. */
async function prepare(jwksPort) {
  const smallDir = path.join(tmp, "state-small");
  const largeDir = path.join(tmp, "state-large");

  log(`temp state in ${tmp}; migrating and seeding ${SMALL_USERS} users, ${CALLER_UPLOADS + 1} uploads`);
  await d1(smallDir, "migrations", "apply");
  await seed(smallDir, "small", smallSeedSql());
  cpSync(smallDir, largeDir, { recursive: true });

  log("starting the 100-user worker while growing its copy to 100,000 users");
  const smallWorker = startWorker("small", smallDir, jwksPort, ["--config", producerOnlyConfig()]);
  const grown = Date.now();
  await seed(largeDir, "large", largeSeedSql());
  const { counts, plans } = await inspectLargeDatabase(largeDir);
  log(
    `large database: ${counts.users} users (${counts.members} members of the demo organization), ${counts.uploads} uploads (${((Date.now() - grown) / 1000).toFixed(1)} s)`,
  );
  for (const plan of plans)
    log(`plan ${plan.indexed ? "ok " : "BAD"} ${plan.name}: ${plan.detail.join(" | ")}`);
  // Before its worker starts: the file as the seeding left it, nothing else writing to it.
  const storage = await measureStorage(localDatabaseFile(largeDir));
  for (const t of storage.tables)
    log(`storage: ${t.table} ${t.rows} rows, ${fmt(t.bytesPerRow, 0)} bytes a row with its indexes`);
  log(
    `storage: ${fmt(storage.bytesPerUser, 0)} bytes a user; ${storage.usersPerDatabase} users per 10 GB database`,
  );
  const small = await smallWorker;
  const large = await startWorker("large", largeDir, jwksPort, ["--config", producerOnlyConfig()]);
  return { smallDir, largeDir, small, large, counts, plans, storage };
}

const tokenFor = async (sub) => `Bearer ${await devToken({ dir: keyDir, sub })}`;

/** The ETag of the viewer's profile: their PATCH with If-Match sets the photo they have, so it stays current. */
async function viewerETag(worker, viewerAuth) {
  const me = await request(worker.port, {
    method: "GET",
    path: "/api/v1/users/me",
    headers: { authorization: viewerAuth },
  });
  if (me.status !== 200 || !me.headers.etag)
    throw new Error(`GET /users/me: ${me.status} ${me.body.slice(0, 200)}`);
  return me.headers.etag;
}

/**
 * What each phase sends: GET /healthz, /users/me, the PATCH (also with If-Match) and the members list;
 * and diagnostics: a PATCH refused before D1, and one queue send on a stand-in against none.
 */
async function phasesFor(small, large, sender, counts) {
  const [callerAuth, viewerAuth, plainAuth, importedAuth] = await Promise.all(
    [DEMO_USER, VIEWER, PLAIN, IMPORTED].map((u) => tokenFor(u.sub)),
  );
  // The caller's token without an organization: the same PATCH, with no audit log to record it in.
  const noOrgAuth = `Bearer ${await devToken({ dir: keyDir, sub: DEMO_USER.sub, org: null })}`;
  // PLAIN's token for the organization whose members all have a custom photo.
  const photosAuth = `Bearer ${await devToken({ dir: keyDir, sub: PLAIN.sub, org: PHOTOS_ORG })}`;
  const bodies = [callerUploads[0], callerUploads[1], null].map((id) => JSON.stringify({ uploadId: id }));
  const patch = (n) => ({
    method: "PATCH",
    path: "/api/v1/users/me/profile-picture",
    headers: { authorization: callerAuth, "content-type": "application/json" },
    body: bodies[n % bodies.length],
  });
  const me = (authorization) => () => ({
    method: "GET",
    path: "/api/v1/users/me",
    headers: authorization ? { authorization } : {},
  });
  // The members list alternates its first page and the page after it (a keyset cursor).
  const membersPath = `/api/v1/shared/users?limit=${MEMBERS_PAGE}`;
  const secondPage = async (worker) => {
    const first = await request(worker.port, {
      method: "GET",
      path: membersPath,
      headers: { authorization: viewerAuth },
    });
    const { nextCursor } = JSON.parse(first.body);
    if (first.status !== 200 || !nextCursor)
      throw new Error(`members list: ${first.status} ${first.body.slice(0, 200)}`);
    return `${membersPath}&cursor=${encodeURIComponent(nextCursor)}`;
  };
  const members = (pages) => (n) => ({
    method: "GET",
    path: pages[n % 2],
    headers: { authorization: viewerAuth },
  });
  const [smallPages, largePages] = await Promise.all(
    [small, large].map(async (worker) => [membersPath, await secondPage(worker)]),
  );
  const ifMatch = await viewerETag(small, viewerAuth);
  const phases = [
    {
      key: "healthz",
      name: "GET /healthz",
      worker: small,
      next: () => ({ method: "GET", path: "/healthz" }),
    },
    { key: "me", name: "GET /api/v1/users/me (a custom photo)", worker: small, next: me(viewerAuth) },
    {
      key: "meImported",
      name: "GET /api/v1/users/me (an imported WorkOS picture)",
      worker: small,
      next: me(importedAuth),
    },
    { key: "meInitials", name: "GET /api/v1/users/me (initials)", worker: small, next: me(plainAuth) },
    { key: "patchSmall", name: "PATCH /api/v1/users/me/profile-picture", worker: small, next: patch },
    {
      key: "patchNoAudit",
      name: "PATCH /api/v1/users/me/profile-picture (a token without org_id: no audit event)",
      worker: small,
      next: (n) => ({ ...patch(n), headers: { ...patch(n).headers, authorization: noOrgAuth } }),
    },
    // What one send costs the local queue's broker, beside the PATCHes that send: a diagnostic pair.
    ...queueSendPhases(sender),
    { key: "patchLarge", name: "PATCH /api/v1/users/me/profile-picture", worker: large, next: patch },
    {
      key: "patchIfMatch",
      name: "PATCH /api/v1/users/me/profile-picture with If-Match",
      worker: small,
      next: () => ({
        method: "PATCH",
        path: "/api/v1/users/me/profile-picture",
        headers: { authorization: viewerAuth, "content-type": "application/json", "if-match": ifMatch },
        body: JSON.stringify({ uploadId: viewerUpload }),
      }),
    },
    {
      key: "listSmall",
      name: `GET /api/v1/shared/users (${MEMBERS_PAGE} a page)`,
      worker: small,
      next: members(smallPages),
    },
    {
      key: "listLarge",
      name: `GET /api/v1/shared/users (${MEMBERS_PAGE} a page)`,
      worker: large,
      next: members(largePages),
    },
    {
      key: "listPhotos",
      name: `GET /api/v1/shared/users (${MEMBERS_PAGE} a page, every member with a custom photo)`,
      worker: small,
      next: () => ({ method: "GET", path: membersPath, headers: { authorization: photosAuth } }),
    },
    // Diagnostics for the CPU breakdown: the same route with less of its work done.
    {
      key: "patchRefused",
      diagnostic: true,
      expect: 422,
      worker: small,
      next: () => ({ ...patch(0), body: JSON.stringify({ uploadId: "not-a-uuid" }) }),
    },
  ];
  return phases.map((phase) =>
    measurable(phase, phase.worker === large ? Number(counts.users) : SMALL_USERS),
  );
}

/** Warm every phase up, then measure them in interleaved slices; the JWKS fetches seen after the warm-up. */
async function measure(phases) {
  log(`warming up every phase for ${WARMUP_MS / 1000} s`);
  for (const phase of phases) await load(phase, WARMUP_MS);
  const jwksAfterWarmup = new Map(jwksHits);
  log(
    `measuring: ${ROUNDS} rounds of ${SLICE_MS} ms per phase (${DIAGNOSTIC_SLICE_MS} ms per diagnostic), interleaved`,
  );
  for (let round = 0; round < ROUNDS; round++) {
    for (const phase of phases) await slice(phase, phase.diagnostic ? DIAGNOSTIC_SLICE_MS : SLICE_MS);
  }
  return jwksAfterWarmup;
}

async function main() {
  const jwksPort = await startJwksServer();
  const { smallDir, largeDir, small, large, counts, plans, storage } = await prepare(jwksPort);
  const sender = await startQueueSender(jwksPort);
  const phases = await phasesFor(small, large, sender, counts);
  const jwksAfterWarmup = await measure(phases);
  await stopWorker(large);
  await stopWorker(sender);
  const shots = await photos();
  const demoAuth = await tokenFor(DEMO_USER.sub);
  log("complete's thumbnails: through the API, then one size against four, one after another and at once");
  const thumbnails = await measureThumbnails(small, demoAuth, jwksPort, shots);
  log("the one-call PUT against the four calls (create, PUT, complete, PATCH), same photos, alternating");
  const oneCall = await measureOneCall(small, demoAuth, shots);
  for (const { key } of oneCall.photos) {
    const { fourCalls: four, oneCall: one } = oneCall.results[key];
    log(
      `${key}: four calls ${fmt(four.ms, 0)} ms (${four.d1} D1 round trips), one call ${fmt(one.ms, 0)} ms (${one.d1})`,
    );
  }
  await stopWorker(small);
  log(
    `storage cleanup: ${CLEANUP_UPLOADS} garbage uploads (${CLEANUP_STORED} with every object in R2), one scheduled run`,
  );
  const cleanup = await measureCleanup(smallDir, jwksPort);
  log("rows read: the service's statements and cleanup runs on the 100-user and a million-user database");
  const rowsRead = await measureRowsRead(smallDir, largeDir, jwksPort);
  log(`imports of WorkOS pictures: ${IMPORT_USERS} users enqueued by the hourly backlog, then consumed`);
  const imports = await measureImports(smallDir, jwksPort);
  log(
    `storage cleanup: ${cleanup.rows} rows and ${cleanup.objects} keys in ${cleanup.uploadsMs} ms: ` +
      `${fmt(cleanup.rowsPerSecond, 0)} rows/s, ${cleanup.rounds} rounds; ${cleanup.webhookEvents} webhook event ids in ` +
      `${cleanup.webhookEventsMs} ms; ${cleanup.d1RoundTrips} D1 round trips`,
  );
  log(`audit events: ${AUDIT_EVENTS} pending events enqueued by the hourly job, then delivered`);
  const auditDelivery = await measureAuditDelivery(smallDir, jwksPort);
  log("initials avatars: CPU per image, in a stand-in worker");
  const initials = await measureInitials(jwksPort);
  log(
    "the one-call PUT of an image just under 10 MiB, sent chunked and with Content-Length: the worker's peak memory",
  );
  const chunkedPut = await measureChunkedPut(smallDir, jwksPort, demoAuth);

  const results = Object.fromEntries(phases.map((phase) => [phase.key, summarize(phase)]));
  for (const r of Object.values(results)) {
    log(
      `${r.diagnostic ? "diag " : ""}${r.key.padEnd(12)} ${fmt(r.rps, 0).padStart(5)} req/s  p50 ${fmt(r.p50, 2)} ms  ` +
        `p99 ${fmt(r.p99, 2)} ms  errors ${r.errors}  cpu ${fmt(r.cpuMs, 3)} ms/req (proxy ${fmt(r.proxyCpuMs, 3)})  ` +
        `d1 ${fmt(r.d1, 2)}/req`,
    );
    for (const sample of r.errorSamples) log(`  unexpected response: ${sample}`);
  }
  const ratios = ratiosOf(results);
  const jwks = {
    small: jwksHits.get("small") ?? 0,
    large: jwksHits.get("large") ?? 0,
    warmup: jwksAfterWarmup,
  };
  const checks = targetChecks({ results, ratios, jwks, plans, oneCall, rowsRead });

  const machine = await machineInfo(small.exe);
  const report = renderReport({
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
  });
  console.log(`\n${report}\n`);
  writeFileSync(LATEST_RESULTS, `# Benchmark results (npm run bench)\n\n${report}\n`);
  if (options.write) await writeBenchmarks(report);
  const written = options.write
    ? "bench-results.md and BENCHMARKS.md"
    : "bench-results.md (--write: BENCHMARKS.md too)";
  log(`results written to ${written}; whole run ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const { failed, notGating, exitCode } = judge(checks);
  for (const [name, value, ok, why] of notGating)
    log(`not gating: ${name} (${value}, ${ok ? "met" : "not met"}): ${why}`);
  for (const [name, value] of failed) log(`\x1b[31mFAIL\x1b[0m ${name}: ${value}`);
  log(failed.length ? `${failed.length} target(s) failed` : "every gating target met");
  return exitCode;
}

try {
  process.exit(await main());
} catch (error) {
  console.error(`\x1b[31m[bench] could not measure:\x1b[0m ${error.stack ?? error}`);
  for (const worker of workers) console.error(`--- ${worker.label} log ---\n${tail(worker.logFile)}`);
  process.exit(BENCH_EXIT.couldNotMeasure);
}
