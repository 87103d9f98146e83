// The benchmark's command line, and the constants that shape a run: load, phases, database sizes,
// targets. Every other part of scripts/bench/ reads them from here.
import path from "node:path";
import { parseCommandLine, wholeNumber } from "../lib/command-line.mjs";

export const options = parseCommandLine({
  name: "bench",
  invocation: "npm run bench --",
  summary:
    "Load benchmark of the worker on wrangler dev's runtime (workerd, local D1 and R2), in throwaway state,\n" +
    "against the targets in BENCHMARKS.md. Writes the results to bench-results.md (git-ignored).\n" +
    "Exit code: 0 every gating target met, 1 one failed, 2 a bad command line, 3 it could not measure.",
  // BENCH_ROUNDS, when set, comes first: a --rounds on the command line wins over it.
  args: [
    ...(process.env.BENCH_ROUNDS ? ["--rounds", process.env.BENCH_ROUNDS] : []),
    ...process.argv.slice(2),
  ],
  options: {
    write: { type: "boolean", default: false, description: "also put the results into BENCHMARKS.md" },
    rounds: {
      type: "string",
      placeholder: "N",
      default: 16,
      parse: wholeNumber(1, 1000),
      description: "measured rounds per phase, 0.5 s each (or $BENCH_ROUNDS)",
    },
  },
});

export const CONCURRENCY = 8;
export const ROUNDS = options.rounds;
/** Per round: a main phase gets one slice of this, a diagnostic phase (the CPU breakdown) a shorter one. */
export const SLICE_MS = 500;
export const DIAGNOSTIC_SLICE_MS = 200;
export const WARMUP_MS = 1_500;
/** A hard cap per slice, so even a very fast run stops and its latencies fit in memory. */
export const MAX_REQUESTS_PER_SLICE = 50_000;
export const SMALL_USERS = 100;
export const LARGE_USERS = 100_000;
export const LARGE_UPLOADS = 100_000;
/**
 * The third database, for rows read: the 100,000-user one grown to a million users, each with a photo
 * in use, the 100,000 members of the demo organization still its members, and 20,000 tombstones of
 * users deleted long ago.
 */
export const MILLION_USERS = 1_000_000;
export const MILLION_TOMBSTONES = 20_000;
export const CALLER_UPLOADS = 100;
export const STARTUP_TIMEOUT_MS = 90_000;
export const MEMBERS_PAGE = 50;
/** The storage cleanup's throughput: garbage uploads, and how many of them have every object in R2. */
export const CLEANUP_UPLOADS = 10_000;
export const CLEANUP_STORED = 200;
/** And processed webhook event ids received 60 days before (past their 30 days), for the cleanup to forget. */
export const CLEANUP_WEBHOOK_EVENTS = 50_000;
/** Imports of WorkOS pictures through the queue: users whose import the hourly backlog enqueues. */
export const IMPORT_USERS = 100;
/** Audit events delivered through the queue: pending events the hourly job enqueues in one run. */
export const AUDIT_EVENTS = 1000;
/** complete's thumbnails: timed runs per photo, of `complete` through the API and of each way of making them. */
export const THUMBNAIL_RUNS = 6;
/**
 * The one-call PUT against the four calls: timed runs of each per photo. More than the thumbnails get:
 * what one call saves locally is a few loopback requests, small beside the run-to-run noise.
 */
export const ONE_CALL_RUNS = 10;
export const TARGETS = {
  meD1: 1,
  patchD1: 2,
  listD1: 1,
  jwksPerIsolate: 1,
  cpuRatio: 2,
  p50Ratio: 1.2,
  oneCallD1: 4,
  /** A read with an avatar (imported, initials) against the same read with a custom photo, and pages alike. */
  avatarCpuRatio: 1.1,
  /** Rows D1 reads for a request at a million users beyond what it reads at a hundred. */
  rowsReadSlack: 5,
  /** The PATCH writing its audit event (a token with org_id) against the same PATCH writing none. */
  auditCpuRatio: 1.1,
  /** An idle storage cleanup run's rows read, at most (what it reads must be its work, not its tables). */
  idleCleanupRowsRead: 300,
};
/**
 * Why the CPU target is reported but does not gate here: this runtime cannot measure what it is about.
 * See "Reading the CPU numbers" in BENCHMARKS.md.
 */
/** Why the PATCH's CPU with its audit event, its enqueue included, is reported but does not gate. */
export const QUEUE_NOT_JUDGED_LOCALLY =
  "locally, the queue's broker runs inside the worker's own workerd process, so every send's broker work counts " +
  "as the worker's; in production it is the Queues service's, and a send is a subrequest. The target gates on the " +
  "same CPU less the local cost of one send, measured on a stand-in worker in the same interleaved rounds";

export const CPU_NOT_JUDGED_LOCALLY =
  "locally, D1's SQLite and the Rate Limiting binding run inside the worker's own workerd process, so their " +
  "CPU counts as the worker's; in production they run outside it. Only production CPU time can judge it";

/**
 * Why the one-call PUT's time on the large photo is reported but does not gate: there the thumbnails are
 * most of both ways, and what one call saves locally is within their noise.
 */
export const LARGE_PHOTO_NOT_JUDGED_LOCALLY =
  "on a 3 MB photo the thumbnails (about 330 ms here) are most of both ways, and what one call saves locally, " +
  "three requests over loopback of about 10 ms each, is within their run-to-run noise (±30 ms a run); over a " +
  "real network each request saved is a round trip of tens to hundreds of ms";

export const ROOT = path.resolve(import.meta.dirname, "../..");

export const log = (message) => console.log(`\x1b[36m[bench]\x1b[0m ${message}`);
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const fmt = (value, digits) => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");
