import { createRoute, z } from "@hono/zod-openapi";
import { ConfigError, loadConfig } from "../../lib/config";
import { createRouter } from "../../lib/create-app";
import { unavailable } from "../../lib/errors";
import { errorResponse } from "../../lib/openapi-schemas";

const healthz = createRoute({
  method: "get",
  path: "/healthz",
  tags: ["Operations"],
  summary: "Liveness and readiness",
  description: "No auth, no database round trip: 200 when the worker runs and its configuration is valid.",
  responses: {
    200: {
      description: "Ready",
      content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } },
    },
    503: errorResponse("The configuration is invalid (details are in the log)", ["unavailable"]),
  },
});

export const healthRouter = createRouter().openapi(healthz, (c) => {
  try {
    loadConfig(c.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(JSON.stringify({ level: "error", msg: "invalid configuration", problems: error.problems }));
    throw unavailable("The service is not configured.");
  }
  return c.json({ status: "ok" as const }, 200);
});
