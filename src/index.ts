import { app } from "./app";
import { consumeJobs } from "./jobs/queue-consumer";
import { runScheduled } from "./jobs/schedule";

export default {
  fetch: app.fetch,
  // Awaited rather than `waitUntil`ed so a failed run shows as a failed cron invocation.
  async scheduled(controller, env) {
    await runScheduled(controller.cron, env, new Date(controller.scheduledTime));
  },
  async queue(batch, env) {
    await consumeJobs(batch, env);
  },
} satisfies ExportedHandler<Env>;
