import { createRoute, z } from "@hono/zod-openapi";
import { ConfigError, loadConfig } from "../../lib/config";
import { createRouter } from "../../lib/create-app";
import { ApiError, retryAfter } from "../../lib/errors/api-error";
import { errorResponses } from "../../lib/errors/openapi";

const healthz = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["Operations"],
  summary: "Liveness and readiness",
  description:
    "No auth, no database round trip: 200 when the worker runs and its configuration is valid, 503 " +
    "when the configuration is not (the log says which setting).",
  responses: {
    200: {
      description: "Ready",
      content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } },
    },
    ...errorResponses(["unavailable"]),
  },
});

export const healthRouter = createRouter().openapi(healthz, (c) => {
  try {
    loadConfig(c.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(JSON.stringify({ level: "error", msg: "invalid configuration", problems: error.problems }));
    throw new ApiError("unavailable", "The service is not configured.", retryAfter(5));
  }
  return c.json({ status: "ok" as const }, 200);
});
