import { createApp, rejectOtherMethods } from "./lib/create-app";
import { mountDocs } from "./routes/docs/docs.index";
import { healthRouter } from "./routes/health/health.index";
import { usersRouter } from "./routes/users/users.index";
import { webhooksRouter } from "./routes/webhooks/webhooks.index";

export const app = createApp();
app.route("/", healthRouter);
app.route("/", usersRouter);
app.route("/", webhooksRouter);
mountDocs(app);
rejectOtherMethods(app);
