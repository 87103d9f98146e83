import type { Context } from "hono";
import { cors } from "hono/cors";
import { loadConfig } from "./config";
import type { AppBindings } from "./types";

/** Origins allowed by `CORS_ORIGINS`; none while the configuration is broken. */
function allowedOrigin(origin: string, c: Context<AppBindings>): string | null {
  try {
    return loadConfig(c.env).corsOrigins.includes(origin) ? origin : null;
  } catch {
    return null;
  }
}

/** The API's CORS; built once: the allowed origins are read per request from the (per-isolate cached) config. */
export const corsPolicy = cors({
  origin: allowedOrigin,
  allowMethods: ["GET", "POST", "PATCH", "PUT", "HEAD", "OPTIONS"],
  // If-None-Match and If-Match: the conditional reads and writes of a profile (its ETag).
  allowHeaders: ["Authorization", "Content-Type", "X-Request-Id", "If-None-Match", "If-Match"],
  exposeHeaders: ["X-Request-Id", "Retry-After", "ETag"],
  maxAge: 600,
});
