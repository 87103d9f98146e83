import { OpenAPIHono } from "@hono/zod-openapi";
import { DrizzleQueryError } from "drizzle-orm";
import type { Context } from "hono";
import { except } from "hono/combine";
import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import { HTTPException } from "hono/http-exception";
import { createDb } from "../db/client";
import { ConfigError, loadConfig } from "./config";
import { D1Tracker, databaseErrorText, trackD1 } from "./d1";
import { ApiError, respondWithError, toValidationIssues } from "./errors";
import type { AppBindings, AppOpenAPI } from "./types";

const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const locations = { json: "body", param: "path", query: "query", header: "header" } as const;

/** A router with the app's bindings and its validation hook: every router comes from here. */
export function createRouter(): AppOpenAPI {
  return new OpenAPIHono<AppBindings>({
    strict: true,
    defaultHook: (result) => {
      if (!result.success) {
        const location = locations[result.target as keyof typeof locations] ?? "body";
        throw new ApiError(
          422,
          "validation_error",
          toValidationIssues(result.error, location, (result as { data?: unknown }).data),
        );
      }
    },
  });
}

const requestContext = createMiddleware<AppBindings>(async (c, next) => {
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
const services = createMiddleware<AppBindings>(async (c, next) => {
  c.set("config", loadConfig(c.env));
  c.set("db", createDb(trackD1(c.env.DB, c.var.d1)));
  await next();
});

/** Origins allowed by `CORS_ORIGINS`; none while the configuration is broken. */
function allowedOrigin(origin: string, c: Context<AppBindings>): string | null {
  try {
    return loadConfig(c.env).corsOrigins.includes(origin) ? origin : null;
  } catch {
    return null;
  }
}

/** Built once: the allowed origins are read per request from the (per-isolate cached) config. */
const corsPolicy = cors({
  origin: allowedOrigin,
  allowMethods: ["GET", "POST", "PATCH", "PUT", "HEAD", "OPTIONS"],
  // If-None-Match: signed into upload URLs, so a page PUTting to the local S3 emulation sends it.
  allowHeaders: ["Authorization", "Content-Type", "X-Request-Id", "If-None-Match"],
  exposeHeaders: ["X-Request-Id", "Retry-After"],
  maxAge: 600,
});

/** The ApiError behind `error`, if any: Drizzle wraps driver errors (our D1 503s) in its own. */
function apiErrorIn(error: unknown): ApiError | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ApiError) return e;
  }
  return undefined;
}

export function onError(error: Error, c: Context<AppBindings>) {
  const apiError = apiErrorIn(error);
  if (apiError) return respondWithError(c, apiError);
  const requestId = c.get("requestId");
  if (error instanceof ConfigError) {
    console.error(
      JSON.stringify({ level: "error", msg: "invalid configuration", requestId, problems: error.problems }),
    );
    return respondWithError(c, new ApiError(500, "internal_error", "Internal server error."));
  }
  if (error instanceof HTTPException && error.status < 500) {
    // Raised by Hono itself for a request it refuses; keep the status, never its text.
    const known = error.status === 413 || error.status === 415;
    return respondWithError(
      c,
      known
        ? new ApiError(
            error.status as 413 | 415,
            error.status === 413 ? "payload_too_large" : "unsupported_media_type",
            "The request body was refused.",
          )
        : new ApiError(400, "bad_request", "Bad request."),
    );
  }
  console.error(
    JSON.stringify({ level: "error", msg: "unhandled error", requestId, ...describeError(error) }),
  );
  return respondWithError(c, new ApiError(500, "internal_error", "Internal server error."));
}

/**
 * What the log may say about an unhandled error. Drizzle's wrapper of a failed statement carries
 * the statement's bound values in its message (a new user's email and names, a filename), and its
 * stack repeats that message: for it, only D1's own text and the call sites. Other errors are bugs
 * in this code, described by the runtime or by us; their message is what makes them findable.
 */
function describeError(error: Error) {
  const failedQuery = chainOf(error).find((e) => e instanceof DrizzleQueryError);
  if (failedQuery) {
    return {
      error: "DrizzleQueryError",
      databaseError: databaseErrorText(failedQuery.cause),
      stack: callSites(failedQuery),
    };
  }
  if (D1_ERROR.test(error.message)) {
    return { error: error.name, databaseError: databaseErrorText(error), stack: callSites(error) };
  }
  return { error: error.name, message: error.message, stack: callSites(error) };
}

/** D1's errors when they reach here without Drizzle's wrapper. */
const D1_ERROR = /^D1_[A-Z_]*ERROR\b/;

function chainOf(error: Error): Error[] {
  const chain = [error];
  for (let e = error.cause; e instanceof Error && chain.length < 5; e = e.cause) chain.push(e);
  return chain;
}

/** The stack without its first line, which repeats the message; nothing when the shape is unknown. */
function callSites(error: Error): string | undefined {
  const header = error.message ? `${error.name}: ${error.message}` : error.name;
  return error.stack?.startsWith(header) ? error.stack.slice(header.length).trim() : undefined;
}

/** The application shell: request id, security headers, CORS, config, errors. */
export function createApp(): AppOpenAPI {
  const app = createRouter();
  app.use("*", requestContext);
  // The bucket emulation answers CORS as the bucket would, with its own rule (s3-emulation/bucket-cors.ts).
  app.use("*", except("/__s3/*", corsPolicy));
  // /healthz, /docs and /openapi.json work without configuration; everything else needs it.
  for (const path of ["/api/*", "/webhooks/*", "/__s3/*"]) app.use(path, services);
  app.onError(onError);
  app.notFound((c) => respondWithError(c, new ApiError(404, "not_found", "Not found.")));
  return app;
}

/**
 * Answer 405 (with `Allow`) for a known path asked with a method it does not serve, instead of
 * a 404 that would suggest the path does not exist. Call after every route is registered.
 */
export function rejectOtherMethods(app: AppOpenAPI) {
  const allowed = new Map<string, Set<string>>();
  for (const route of app.routes) {
    if (route.method === "ALL") continue;
    const methods = allowed.get(route.path) ?? new Set<string>(["OPTIONS"]);
    methods.add(route.method);
    if (route.method === "GET") methods.add("HEAD");
    allowed.set(route.path, methods);
  }
  for (const [path, methods] of allowed) {
    const allow = [...methods].join(", ");
    app.all(path, (c) => {
      throw new ApiError(405, "method_not_allowed", `Method ${c.req.method} is not allowed here.`, {
        Allow: allow,
      });
    });
  }
}
