import { app } from "./app";
import { cleanUpStorage } from "./jobs/storage-cleanup";

export default {
  fetch: app.fetch,
  // Awaited rather than `waitUntil`ed so a failed run shows as a failed cron invocation.
  async scheduled(controller, env) {
    await cleanUpStorage(env, new Date(controller.scheduledTime));
  },
} satisfies ExportedHandler<Env>;
