// What enqueuing one job costs the worker's process locally: the service's jobQueue sending audit_event
// messages in a stand-in worker (queue-send-worker.ts) with the service's producer binding and no
// consumer, as the load phases' workers run, measured as utime+stime of the workerd process over a
// request that sends many. Locally the queue's broker runs inside that process, so this is the part of
// the PATCH's CPU that production moves to the Queues service (with the send's own serialising, a few
// µs, which it does not).
import path from "node:path";
import { CLK_TCK, workerdTicks } from "./cpu.mjs";
import { request } from "./load.mjs";
import { ok } from "./upload-flows.mjs";
import { standInConfig, startWorker, stopWorker, tmp } from "./workers.mjs";

/** Sends per timed request: about a second of CPU, so the 10 ms clock tick is about 1% of it. */
const SENDS = 1000;

/** The worker process's CPU ms per send of one request that makes `count` of them. */
async function cpuPerSend(worker, count) {
  const before = workerdTicks(worker).worker;
  ok(await request(worker.port, { method: "POST", path: `/send?count=${count}` }), "/send");
  return (((workerdTicks(worker).worker - before) / CLK_TCK) * 1000) / count;
}

/** CPU ms per send, the median of three timed requests after a warm-up, in a fresh stand-in. */
export async function measureQueueSend(jwksPort) {
  const worker = await startWorker("queue-send", path.join(tmp, "state-queue-send"), jwksPort, [
    "--config",
    standInConfig("queue-send", ["queues"]),
  ]);
  try {
    await cpuPerSend(worker, 100);
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await cpuPerSend(worker, SENDS));
    return { sends: SENDS, msPerSend: runs.sort((a, b) => a - b)[1] };
  } finally {
    await stopWorker(worker);
  }
}
