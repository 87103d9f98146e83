// complete's thumbnails: how long `complete` takes through the API on a small photo (the demo photo,
// 640x480) and on a large one (a 4000x3000 JPEG, photos.mjs); and its
// thumbnail step alone, in a stand-in worker running the service's own code (thumbnails-worker.ts):
// one size against every size, one after another against all at once. Each way of making them runs
// in a fresh `wrangler dev`, so its peak memory is its own; locally the Images binding is sharp in
// wrangler's Node process, which stands for Cloudflare Images, and the worker is the workerd process.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { CLK_TCK, workerdProcesses } from "./cpu.mjs";
import { median, request } from "./load.mjs";
import { log, THUMBNAIL_RUNS } from "./options.mjs";
import { fourCalls, ok } from "./upload-flows.mjs";
import { standInConfig, startWorker, stopWorker, tmp } from "./workers.mjs";

/** The ways the stand-in makes thumbnails, in the order they run. */
export const THUMBNAIL_WAYS = [
  { key: "one", name: "one size (256 px), as before", query: "sizes=one" },
  { key: "sequential", name: "four sizes, one after another", query: "sizes=every&order=one-after-another" },
  { key: "concurrent", name: "four sizes, all at once", query: "sizes=every&order=at-once" },
];

/** `complete`'s time on one new upload of `photo`, made through the API up to its bytes in R2. */
async function completeOnce(worker, authorization, photo) {
  return (await fourCalls(worker, authorization, photo, { attach: false })).complete.ms;
}

/** Median `complete` time per photo, through the service's API on `worker`, after one warm-up each. */
async function completeThroughApi(worker, authorization, shots) {
  const medians = {};
  for (const photo of shots) {
    await completeOnce(worker, authorization, photo);
    const times = [];
    for (let run = 0; run < THUMBNAIL_RUNS; run++)
      times.push(await completeOnce(worker, authorization, photo));
    medians[photo.key] = median(times);
  }
  return medians;
}

/** Node processes under a wrangler: where it runs miniflare, and so, locally, the Images binding (sharp). */
function nodeProcesses(worker) {
  const parentOf = new Map();
  for (const name of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      parentOf.set(Number(name), {
        ppid: Number(fields[1]),
        comm: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
      });
    } catch {}
  }
  const inGroup = (pid) => {
    for (let p = pid; p > 1; p = parentOf.get(p)?.ppid ?? 0) if (p === worker.child.pid) return true;
    return false;
  };
  return [...parentOf].filter(([pid, p]) => p.comm === "node" && inGroup(pid)).map(([pid]) => pid);
}

/** CPU ticks, current and peak resident memory (KiB) of a process. */
function usage(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
    return { ticks: Number(fields[11]) + Number(fields[12]), rss: kib("VmRSS"), peak: kib("VmHWM") };
  } catch {
    return { ticks: 0, rss: 0, peak: 0 };
  }
}

/** The two sides of the work: the worker (workerd) and, locally, the Images binding (wrangler's Node). */
function sides(worker) {
  const workerPid = workerdProcesses(worker).find((p) => p.role === "worker")?.pid;
  return { worker: workerPid, images: nodeProcesses(worker) };
}

const total = (pids, field) => [pids].flat().reduce((sum, pid) => sum + usage(pid)[field], 0);

/** One way of making the thumbnails, in a fresh stand-in: per photo, median time and CPU per run, and peak memory. */
async function measureWay(way, shots, jwksPort, config) {
  const worker = await startWorker(
    `thumbnails-${way.key}`,
    path.join(tmp, `state-thumbnails-${way.key}`),
    jwksPort,
    ["--config", config],
  );
  try {
    const { worker: workerPid, images } = sides(worker);
    const startRss = { worker: total(workerPid, "rss"), images: total(images, "rss") };
    const results = {};
    for (const photo of shots) {
      ok(
        await request(worker.port, { method: "PUT", path: `/photos/${photo.key}`, body: photo.bytes }),
        "PUT photo",
      );
      const run = async () => {
        const response = ok(
          await request(worker.port, { method: "POST", path: `/thumbnails/${photo.key}?${way.query}` }),
          `thumbnails ${way.key}`,
        );
        return JSON.parse(response.body);
      };
      const warmup = await run();
      const before = { worker: total(workerPid, "ticks"), images: total(images, "ticks") };
      const times = [];
      for (let i = 0; i < THUMBNAIL_RUNS; i++) times.push((await run()).ms);
      const cpuMs = (pids, start) => (((total(pids, "ticks") - start) / CLK_TCK) * 1000) / THUMBNAIL_RUNS;
      results[photo.key] = {
        ms: median(times),
        workerCpuMs: cpuMs(workerPid, before.worker),
        imagesCpuMs: cpuMs(images, before.images),
        thumbnails: warmup.thumbnails,
      };
    }
    // Peak since the stand-in started, above where it started: the large photo's runs set it.
    const peakMiB = (pids, start) => (total(pids, "peak") - start) / 1024;
    return {
      ...way,
      results,
      workerPeakMiB: peakMiB(workerPid, startRss.worker),
      imagesPeakMiB: peakMiB(images, startRss.images),
    };
  } finally {
    await stopWorker(worker);
  }
}

/**
 * Everything about complete's thumbnails, on each of `shots` (photos.mjs): `complete` through the
 * API on `apiWorker` (a running service), then each way of making them in its own stand-in.
 */
export async function measureThumbnails(apiWorker, authorization, jwksPort, shots) {
  log(`complete: ${shots.map((p) => `${p.key} ${p.what}`).join("; ")}; ${THUMBNAIL_RUNS} runs each`);
  const complete = await completeThroughApi(apiWorker, authorization, shots);
  const config = standInConfig("thumbnails", ["r2_buckets", "images"]);
  const ways = [];
  for (const way of THUMBNAIL_WAYS) {
    ways.push(await measureWay(way, shots, jwksPort, config));
    log(
      `thumbnails, ${way.name}: ${shots.map((p) => `${p.key} ${ways.at(-1).results[p.key].ms.toFixed(0)} ms`).join(", ")}`,
    );
  }
  return { photos: shots.map(({ key, what }) => ({ key, what })), complete, ways };
}
