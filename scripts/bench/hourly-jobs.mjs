// The queue's work as the bench measures it: the hourly job run once on a worker of its own, then its
// consumer's job log lines counted until all the work enqueued is done (imports, audit deliveries).
import { readFileSync } from "node:fs";
import { CLK_TCK, workerdTicks } from "./cpu.mjs";
import { request } from "./load.mjs";
import { sleep } from "./options.mjs";

/** How many of the worker's job log lines so far have an outcome matching `outcome`. */
export const jobOutcomes = (worker, outcome) =>
  readFileSync(worker.logFile, "utf8")
    .split("\n")
    .filter((line) => line.includes('"msg":"job"') && outcome.test(line)).length;

/**
 * Runs the hourly job once on a worker started with `--test-scheduled`, then waits until its queue
 * consumer has logged `count` jobs with `outcome`: the time from the cron's request to the last of
 * them, and the worker's CPU over it.
 */
export async function runHourlyUntil(worker, { outcome, count, what, timeoutMs }) {
  const ticksBefore = workerdTicks(worker).worker;
  const started = Date.now();
  const res = await request(worker.port, { method: "GET", path: "/__scheduled?cron=47+*+*+*+*" });
  if (res.status !== 200) throw new Error(`the hourly run: ${res.status} ${res.body.slice(0, 200)}`);
  let done = jobOutcomes(worker, outcome);
  while (done < count) {
    if (Date.now() > started + timeoutMs)
      throw new Error(`${done} of ${count} ${what} in ${timeoutMs / 60_000} minutes`);
    await sleep(100);
    done = jobOutcomes(worker, outcome);
  }
  return {
    done,
    ms: Date.now() - started,
    cpuMs: ((workerdTicks(worker).worker - ticksBefore) * 1000) / CLK_TCK,
  };
}
