import { createMiddleware } from "hono/factory";
import { createDb } from "../db/client";
import { loadConfig } from "./config";
import { D1Tracker, trackD1 } from "./d1";
import type { AppBindings } from "./types";

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Every request: its id (a sane incoming `X-Request-Id` is echoed), the security headers, a D1
 * round-trip count, and one log line when it ends.
 */
export const requestContext = createMiddleware<AppBindings>(async (c, next) => {
  const incoming = c.req.header("x-request-id");
  const requestId = incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
  c.set("requestId", requestId);
  const d1 = new D1Tracker();
  c.set("d1", d1);
  const started = Date.now();
  try {
    await next();
  } finally {
    const headers = c.res.headers;
    headers.set("X-Request-Id", requestId);
    headers.set("X-Content-Type-Options", "nosniff");
    if (!headers.has("Cache-Control")) headers.set("Cache-Control", "no-store");
    if (c.env.SERVER_TIMING === "true")
      headers.set("Server-Timing", `d1;desc="${d1.roundTrips}";dur=${d1.durationMs}`);
    // One line a request. Never the URL's query (presigned signatures) nor any header value.
    console.log(
      JSON.stringify({
        level: "info",
        requestId,
        method: c.req.method,
        route: c.req.routePath,
        status: c.res.status,
        durationMs: Date.now() - started,
        userId: c.get("caller")?.id ?? null,
        sub: c.get("claims")?.sub ?? null,
        d1RoundTrips: d1.roundTrips,
      }),
    );
  }
});

/** Config and the database client for this request; a broken configuration stops here. */
export const services = createMiddleware<AppBindings>(async (c, next) => {
  c.set("config", loadConfig(c.env));
  c.set("db", createDb(trackD1(c.env.DB, c.var.d1)));
  await next();
});
