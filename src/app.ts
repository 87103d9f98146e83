import { createApp, rejectOtherMethods } from "./lib/create-app";
import { mountDocs } from "./routes/docs/docs.index";
import { healthRouter } from "./routes/health/health.index";
import { bucketCors } from "./routes/s3-emulation/bucket-cors";
import { s3EmulationRouter } from "./routes/s3-emulation/s3-emulation.index";
import { uploadsRouter } from "./routes/uploads/uploads.index";
import { usersRouter } from "./routes/users/users.index";
import { webhooksRouter } from "./routes/webhooks/webhooks.index";

export const app = createApp();
app.route("/", healthRouter);
app.route("/", usersRouter);
app.route("/", uploadsRouter);
app.route("/", webhooksRouter);
app.use("/__s3/*", bucketCors);
app.route("/", s3EmulationRouter);
mountDocs(app);
rejectOtherMethods(app);
