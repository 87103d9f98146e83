// Storage cleanup throughput: a copy of the 100-user database gets CLEANUP_UPLOADS pending uploads
// two days old (garbage), the first CLEANUP_STORED of them with every object (the original and a
// thumbnail per size) PUT into local R2 through presigned URLs, and CLEANUP_WEBHOOK_EVENTS processed webhook
// event ids past their retention; a third worker runs the cron once (`--test-scheduled`). Its log line
// gives the rows deleted and the ids forgotten, and how long each part of the run took.
import { cpSync, readFileSync } from "node:fs";
import path from "node:path";
import { AwsClient } from "aws4fetch";
import { originalKeyFor, thumbKeysFor } from "../../src/lib/object-keys.ts";
import { cleanupSeedSql } from "./databases.mjs";
import { request } from "./load.mjs";
import { CLEANUP_STORED, CONCURRENCY } from "./options.mjs";
import { seed, startWorker, stopWorker, tail, tmp } from "./workers.mjs";

export async function measureCleanup(sourceDir, jwksPort) {
  const dir = path.join(tmp, "state-cleanup");
  cpSync(sourceDir, dir, { recursive: true });
  const storedIds = Array.from({ length: CLEANUP_STORED }, () => crypto.randomUUID());
  await seed(dir, "cleanup", cleanupSeedSql(storedIds));
  const worker = await startWorker("cleanup", dir, jwksPort, ["--test-scheduled"]);
  const r2 = new AwsClient({
    accessKeyId: "bench-access-key-id",
    secretAccessKey: "bench-secret-access-key-local-only",
    service: "s3",
    region: "auto",
  });
  const keys = storedIds.flatMap((id) => [originalKeyFor(id), ...thumbKeysFor(id)]);
  const put = async (key) => {
    const signed = await r2.sign(
      `http://127.0.0.1:${worker.port}/__s3/profile-pictures/${key}?X-Amz-Expires=600`,
      {
        method: "PUT",
        aws: { signQuery: true },
      },
    );
    const url = new URL(signed.url);
    const res = await request(worker.port, {
      method: "PUT",
      path: `${url.pathname}${url.search}`,
      body: "x",
    });
    if (res.status !== 200) throw new Error(`PUT ${key}: ${res.status} ${res.body.slice(0, 200)}`);
  };
  for (let i = 0; i < keys.length; i += CONCURRENCY)
    await Promise.all(keys.slice(i, i + CONCURRENCY).map(put));

  const res = await request(worker.port, { method: "GET", path: "/__scheduled?cron=17+*+*+*+*" });
  if (res.status !== 200) throw new Error(`the scheduled run: ${res.status} ${res.body.slice(0, 200)}`);
  await stopWorker(worker);
  const line = readFileSync(worker.logFile, "utf8")
    .split("\n")
    .find((l) => l.includes('"msg":"storage cleanup"'));
  if (!line) throw new Error(`the scheduled run logged no result:\n${tail(worker.logFile)}`);
  const logged = JSON.parse(line.slice(line.indexOf("{")));
  const { objects, objectsLeft, objectsRetried, webhookEvents, ...byKind } = logged.deleted;
  const rows = Object.values(byKind).reduce((sum, n) => sum + n, 0);
  const uploadsMs = logged.durationMs - logged.webhookEventsMs;
  return {
    ...logged,
    rows,
    objects,
    objectsLeft,
    objectsRetried,
    uploadsMs,
    rowsPerSecond: rows / (uploadsMs / 1000),
    webhookEvents,
    webhookEventsPerSecond: webhookEvents / (logged.webhookEventsMs / 1000),
  };
}
