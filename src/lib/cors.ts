import type { Context } from "hono";
import { cors } from "hono/cors";
import { loadConfig } from "./config";
import { BOOKMARK_HEADER } from "./request-context";
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
  // The bookmark: a page sends back the one its last response carried, to read its own writes.
  allowHeaders: [
    "Authorization",
    "Content-Type",
    "X-Request-Id",
    "If-None-Match",
    "If-Match",
    BOOKMARK_HEADER,
  ],
  exposeHeaders: ["X-Request-Id", "Retry-After", "ETag", BOOKMARK_HEADER],
  maxAge: 600,
});
