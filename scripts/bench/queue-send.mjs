// What enqueuing one job costs the worker's process locally: a stand-in worker (queue-send-worker.ts)
// with the service's producer binding and no consumer, as the load phases' workers run, driven as two
// diagnostic phases interleaved with the others under the same load: a request that sends one
// audit_event message with the service's jobQueue, and one that sends none. The difference in the
// workerd process's CPU per request is one send's. Locally the queue's broker runs inside that process,
// so this is the part of the PATCH's CPU that production moves to the Queues service (with the send's
// own serialising, a few µs, which it does not).
import path from "node:path";
import { standInConfig, startWorker, tmp } from "./workers.mjs";

/** The stand-in, started once for the load phases (the caller stops it with them). */
export const startQueueSender = (jwksPort) =>
  startWorker("queue-send", path.join(tmp, "state-queue-send"), jwksPort, [
    "--config",
    standInConfig("queue-send", ["queues"]),
  ]);

/** The two diagnostic phases on the stand-in: one send a request, and none (its floor). */
export const queueSendPhases = (sender) => [
  {
    key: "queueSend",
    diagnostic: true,
    worker: sender,
    next: () => ({ method: "POST", path: "/send?count=1" }),
  },
  {
    key: "queueSendFloor",
    diagnostic: true,
    worker: sender,
    next: () => ({ method: "POST", path: "/send?count=0" }),
  },
];

/** One send's CPU: the stand-in's CPU per request sending one message, less its CPU per request sending none. */
export const sendCpuMs = (results) => results.queueSend.cpuMs - results.queueSendFloor.cpuMs;
