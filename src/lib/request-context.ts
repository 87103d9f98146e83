import { createMiddleware } from "hono/factory";
import { createDb } from "../db/client";
import { jobQueue } from "../jobs/messages";
import { loadConfig } from "./config";
import { D1Session, isBookmark } from "./d1";
import type { AppBindings } from "./types";

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Every request: its id (a sane incoming `X-Request-Id` is echoed), the security headers, and one
 * log line when it ends, with the D1 round trips of its session (`databaseSession`), if it had one.
 */
export const requestContext = createMiddleware<AppBindings>(async (c, next) => {
  const incoming = c.req.header("x-request-id");
  const requestId = incoming && SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
  c.set("requestId", requestId);
  const started = Date.now();
  try {
    await next();
  } finally {
    const headers = c.res.headers;
    headers.set("X-Request-Id", requestId);
    headers.set("X-Content-Type-Options", "nosniff");
    // The bucket emulation answers as R2 does, with the object's own Cache-Control or none.
    if (!headers.has("Cache-Control") && !c.req.path.startsWith("/__s3/"))
      headers.set("Cache-Control", "no-store");
    const d1 = c.get("d1") as D1Session | undefined;
    if (c.env.SERVER_TIMING === "true")
      headers.set("Server-Timing", `d1;desc="${d1?.roundTrips ?? 0}";dur=${d1?.durationMs ?? 0}`);
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
        d1RoundTrips: d1?.roundTrips ?? 0,
      }),
    );
  }
});

/** The header a client sends the bookmark of its last response in, and every API response carries. */
export const BOOKMARK_HEADER = "x-d1-bookmark";

/**
 * The request's D1 session and the database client over it. Reads start from the bookmark the
 * client sent, when it is one, so they see at least what its last response saw, from the nearest
 * replica that has caught up; else from any instance. A route that writes says so where it is
 * declared (`startAtPrimary`). The response carries the session's latest bookmark, errors too;
 * it is empty only when the request brought none and never reached D1 (a refused token, say).
 * Something that is not a bookmark is ignored as if it were not there.
 */
export const databaseSession = createMiddleware<AppBindings>(async (c, next) => {
  const sent = c.req.header(BOOKMARK_HEADER);
  const d1 = new D1Session(c.env.DB, isBookmark(sent) ? sent : "first-unconstrained");
  c.set("d1", d1);
  c.set("db", createDb(d1.client));
  try {
    await next();
  } finally {
    c.res.headers.set(BOOKMARK_HEADER, d1.bookmark ?? "");
  }
});

/**
 * First in the middleware of every route that writes (the PATCHes, upload creation and completion,
 * the webhook): its session starts at the primary whatever bookmark came with the request, so its
 * checks, and the reads that explain a refusal, see the state its write is judged against, not a
 * replica's older copy. Its writes go to the primary anyway; a write route that read a replica
 * first would only read older data.
 */
export const startAtPrimary = createMiddleware<AppBindings>(async (c, next) => {
  c.var.d1.startAtPrimary();
  await next();
});

/** The configuration for this request; a broken one stops here. */
export const services = createMiddleware<AppBindings>(async (c, next) => {
  c.set("config", loadConfig(c.env));
  c.set("jobs", jobQueue(c.env.JOBS, c.var.requestId));
  await next();
});
