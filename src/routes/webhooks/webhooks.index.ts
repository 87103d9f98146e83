import { createRouter } from "../../lib/create-app";
import { startAtPrimary } from "../../lib/request-context";
import { workosWebhookHandler } from "./webhooks.handlers";
import { workosWebhook } from "./webhooks.routes";

const router = createRouter();
router.openAPIRegistry.registerPath(workosWebhook);
export const webhooksRouter = router.post(workosWebhook.path, startAtPrimary, workosWebhookHandler);
