// The one-call PUT of an image just under the size limit, sent chunked (no Content-Length) and with
// Content-Length: the peak memory of the workerd process that runs the worker. With a length the body
// streams into R2; without one its length is known only at its end, so the worker reads it all before
// it stores it, and this shows what that holds. Each way runs in a fresh `wrangler dev` on its own copy
// of the 100-user database, so its memory is its own. A PUT's peak is the process's VmHWM, reset to its
// current RSS just before the PUT (`/proc/<pid>/clear_refs`), above the VmRSS it had when it started.
// Reported, not a target.
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { MAX_PROFILE_PICTURE_BYTES } from "../../src/pictures/upload-rules.ts";
import { workerdProcesses } from "./cpu.mjs";
import { median } from "./load.mjs";
import { fmt } from "./options.mjs";
import { startWorker, stopWorker, tmp } from "./workers.mjs";

const sharp = createRequire(import.meta.url)("sharp");

/** The service's limit for a profile picture. */
const LIMIT_BYTES = MAX_PROFILE_PICTURE_BYTES;
const RUNS = 5;
/** What the client writes at a time when it sends the body chunked. */
const CHUNK_BYTES = 64 * 1024;
const WAYS = [
  { key: "chunked", name: "chunked, no `Content-Length` (read whole, then stored from its chunks)" },
  { key: "length", name: "with `Content-Length` (streamed into R2)" },
];

/** An RGB PNG of noise, 1860x1860: it barely compresses, so it is about 9.9 MiB, just under the limit. */
async function largestImage() {
  const side = 1860;
  const pixels = new Uint8Array(side * side * 3);
  // xorshift32 from a fixed seed: every run encodes the same picture to the same bytes.
  let x = 2463534242;
  for (let i = 0; i < pixels.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    pixels[i] = x & 0xff;
  }
  const bytes = await sharp(pixels, { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toBuffer();
  if (bytes.length > LIMIT_BYTES || bytes.length < 9 * 1024 * 1024) {
    throw new Error(`the noise PNG is ${bytes.length} bytes, not just under the ${LIMIT_BYTES}-byte limit`);
  }
  return { bytes, what: `${side}x${side} PNG of noise, ${bytes.length.toLocaleString("en-US")} bytes` };
}

/** `bytes` as a stream of CHUNK_BYTES pieces: fetch sends it with `Transfer-Encoding: chunked`. */
function chunksOf(bytes) {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      controller.enqueue(bytes.subarray(offset, offset + CHUNK_BYTES));
      offset += CHUNK_BYTES;
      if (offset >= bytes.length) controller.close();
    },
  });
}

/** Resident memory of a process, current and peak, in KiB. */
function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

/** One way's series in a fresh `wrangler dev`: per PUT, its time and the worker's peak above its start. */
async function series(way, image, sourceDir, jwksPort, authorization) {
  const dir = path.join(tmp, `state-chunked-put-${way.key}`);
  cpSync(sourceDir, dir, { recursive: true });
  // A label of word characters only: the JWKS stand-in serves /jwks/<label>.
  const worker = await startWorker(`put_${way.key}`, dir, jwksPort);
  try {
    const pid = workerdProcesses(worker).find((p) => p.role === "worker").pid;
    const start = memory(pid).rss;
    const runs = [];
    for (let run = 0; run < RUNS; run++) {
      // Linux: "5" resets VmHWM to the current RSS, so each PUT's peak is its own.
      writeFileSync(`/proc/${pid}/clear_refs`, "5");
      const started = performance.now();
      const response = await fetch(`http://127.0.0.1:${worker.port}/api/v1/users/me/profile-picture`, {
        method: "PUT",
        headers: { authorization, "content-type": "image/png" },
        signal: AbortSignal.timeout(60_000),
        ...(way.key === "chunked" ? { body: chunksOf(image.bytes), duplex: "half" } : { body: image.bytes }),
      });
      const body = await response.text();
      const ms = performance.now() - started;
      if (response.status !== 200) {
        throw new Error(`PUT sent ${way.key}: ${response.status} ${body.slice(0, 200)}`);
      }
      runs.push({ ms, peakMiB: (memory(pid).peak - start) / 1024 });
    }
    return { ...way, runs };
  } finally {
    await stopWorker(worker);
  }
}

/**
 * The image's PUT each way, RUNS times, as `authorization`'s user, each way in a fresh worker on a copy
 * of `sourceDir` (the 100-user database): per way, the median and largest peak, and the median time.
 */
export async function measureChunkedPut(sourceDir, jwksPort, authorization) {
  const image = await largestImage();
  const ways = [];
  for (const way of WAYS) {
    const { runs, ...rest } = await series(way, image, sourceDir, jwksPort, authorization);
    const peaks = runs.map((r) => r.peakMiB);
    ways.push({
      ...rest,
      peaks,
      medianPeakMiB: median(peaks),
      maxPeakMiB: Math.max(...peaks),
      ms: median(runs.map((r) => r.ms)),
    });
  }
  return { what: image.what, ways };
}

/** The report's section: per way, the worker's peak memory (median, largest, each PUT's) and the PUT's time. */
export function chunkedPutReport({ what, ways }) {
  return [
    "### The one-call PUT sent chunked: the worker's peak memory",
    "",
    "Not a target: a peak moves with when V8 collects garbage, and the limit that matters is the runtime's " +
      "128 MB an isolate, which a process's memory cannot show. `PUT /api/v1/users/me/profile-picture` with an " +
      `image just under the ${LIMIT_BYTES.toLocaleString("en-US")}-byte limit (${what}), ${RUNS} times each way, ` +
      "each way in a fresh `wrangler dev`. A PUT's peak is the high-water mark (`VmHWM`, reset just before it) of " +
      "the workerd process that runs the worker, above the `VmRSS` it started at. That process also runs local D1 " +
      "and R2, and keeps memory an earlier PUT freed, so the peaks climb over the first PUTs; compare the ways:",
    "",
    "| sent | peak MiB, median | peak MiB, max | each PUT's peak MiB, in order | ms, median |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...ways.map(
      (w) =>
        `| ${w.name} | ${fmt(w.medianPeakMiB, 1)} | ${fmt(w.maxPeakMiB, 1)} | ` +
        `${w.peaks.map((p) => fmt(p, 0)).join(" / ")} | ${fmt(w.ms, 0)} |`,
    ),
  ];
}
