// What D1 reads (`meta.rows_read`, what it bills, reported per statement by local D1 as in production):
// per request, and per run of the storage cleanup, on the 100-user database and on a million-user one
// (the 100,000-user database grown to a million users, each with a photo in use, and 20,000 tombstones:
// databases.mjs). A stand-in worker (rows-read-worker.ts) runs the service's own statements
// (planned-statements.ts) and its cleanup on a copy of each. The targets: the same rows at a million
// as at a hundred, within a small constant.
import { cpSync } from "node:fs";
import path from "node:path";
import { DEMO_USER } from "../dev-keys.mjs";
import { cleanupSeedSql, millionSeedSql, VIEWER, viewerUpload, viewerWriteId } from "./databases.mjs";
import { request } from "./load.mjs";
import { log, MEMBERS_PAGE } from "./options.mjs";
import { loadServiceStatements } from "./service-statements.mjs";
import { ok } from "./upload-flows.mjs";
import { seed, standInConfig, startWorker, stopWorker, tmp } from "./workers.mjs";

/** The service's statements of the requests measured, with the benchmark's ids. */
async function statements() {
  const { rowsReadStatements } = await loadServiceStatements(tmp);
  return rowsReadStatements({
    sub: VIEWER.sub,
    org: DEMO_USER.org,
    uploadId: viewerUpload,
    writeId: viewerWriteId,
    pageSize: MEMBERS_PAGE,
    // Early in both databases' order (Last0..Last99; last + four hex digits), so the page after it is
    // full in both, as the first is: the gate compares pages of the same size.
    after: ["last1", "first", ""],
    qMany: "last",
    qNone: "zz",
  });
}

const post = async (worker, routePath, body) =>
  JSON.parse(
    ok(
      await request(worker.port, { method: "POST", path: routePath, body: body && JSON.stringify(body) }),
      routePath,
    ).body,
  );

/** What one cleanup invocation can send at most, as the cleanup itself counts it (the same for any database). */
let limits;

/** Rows read per statement, and by an idle cleanup run and one with `CLEANUP_UPLOADS` garbage uploads, on `dir`. */
async function measureDatabase(label, dir, jwksPort, measured) {
  const config = standInConfig("rows-read", ["d1_databases", "r2_buckets"]);
  // The cleanup runs "now", so the seeded garbage (two days old) is garbage and nothing else is.
  const now = Date.now();
  let worker = await startWorker(`rows-${label}`, dir, jwksPort, ["--config", config]);
  let idle;
  let requests;
  try {
    requests = await post(worker, "/statements", { statements: measured.map((s) => s.sql) });
    limits ??= JSON.parse(ok(await request(worker.port, { method: "GET", path: "/limits" }), "/limits").body);
    // Twice: the first run takes what the load phases left behind; the second is the idle one.
    await post(worker, `/cleanup?now=${now}`);
    idle = await post(worker, `/cleanup?now=${now}`);
  } finally {
    await stopWorker(worker);
  }
  await seed(dir, `rows-${label}-garbage`, cleanupSeedSql([], { webhookEvents: 0 }));
  worker = await startWorker(`rows-${label}-garbage`, dir, jwksPort, ["--config", config]);
  let garbage;
  try {
    garbage = await post(worker, `/cleanup?now=${now}`);
  } finally {
    await stopWorker(worker);
  }
  return {
    requests: Object.fromEntries(measured.map((s, i) => [s.key, requests[i]])),
    idleCleanup: idle,
    garbageCleanup: garbage,
  };
}

/**
 * Rows read on a copy of the 100-user database and on the million-user one grown from a copy of the
 * 100,000-user database (`largeDir`, once its worker has stopped).
 */
export async function measureRowsRead(smallDir, largeDir, jwksPort) {
  const measured = await statements();
  const smallCopy = path.join(tmp, "state-rows-small");
  const million = path.join(tmp, "state-million");
  cpSync(smallDir, smallCopy, { recursive: true });
  cpSync(largeDir, million, { recursive: true });
  const grown = Date.now();
  await seed(million, "million", millionSeedSql());
  const seedSeconds = (Date.now() - grown) / 1000;
  log(`million-user database grown in ${seedSeconds.toFixed(0)} s`);
  const small = await measureDatabase("small", smallCopy, jwksPort, measured);
  const large = await measureDatabase("million", million, jwksPort, measured);
  return {
    statements: measured.map(({ key, name }) => ({ key, name })),
    small,
    million: large,
    seedSeconds,
    limits,
  };
}
