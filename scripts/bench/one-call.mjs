// The one-call PUT against the four calls it replaces (create, PUT to the presigned URL, complete,
// PATCH), for the same photo on the same worker: the time from the first byte sent to the profile
// set, the HTTP requests and the D1 round trips each way takes. The runs alternate the two ways, so
// whatever else the machine does meanwhile falls on both alike.
import { median } from "./load.mjs";
import { ONE_CALL_RUNS } from "./options.mjs";
import { fourCalls, oneCall } from "./upload-flows.mjs";

/** What one run of a way took: its steps' ms added up, its requests, its D1 round trips. */
function totals(steps) {
  const all = Object.values(steps);
  return {
    ms: all.reduce((sum, s) => sum + s.ms, 0),
    requests: all.length,
    d1: all.reduce((sum, s) => sum + s.d1, 0),
    steps: Object.fromEntries(Object.entries(steps).map(([name, s]) => [name, s.ms])),
  };
}

/** Medians over runs (ms, each step's ms), and the requests and D1 round trips (the same every run, else the largest). */
function summarize(runs) {
  const [first] = runs;
  return {
    ms: median(runs.map((r) => r.ms)),
    requests: first.requests,
    d1: Math.max(...runs.map((r) => r.d1)),
    steps: Object.fromEntries(
      Object.keys(first.steps).map((name) => [name, median(runs.map((r) => r.steps[name]))]),
    ),
  };
}

/**
 * Per photo of `shots` (photos.mjs), after one warm-up run of each way, ONE_CALL_RUNS runs of each
 * way, alternating, each setting `authorization`'s user's photo on `worker` (a running service).
 */
export async function measureOneCall(worker, authorization, shots) {
  const results = {};
  for (const photo of shots) {
    await fourCalls(worker, authorization, photo);
    await oneCall(worker, authorization, photo);
    const four = [];
    const one = [];
    for (let run = 0; run < ONE_CALL_RUNS; run++) {
      four.push(totals(await fourCalls(worker, authorization, photo)));
      one.push(totals(await oneCall(worker, authorization, photo)));
    }
    results[photo.key] = { fourCalls: summarize(four), oneCall: summarize(one) };
  }
  return { photos: shots.map(({ key, what }) => ({ key, what })), results };
}
