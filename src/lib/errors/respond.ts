import { DrizzleQueryError } from "drizzle-orm";
import type { Context, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../config";
import { databaseErrorText } from "../d1";
import type { AppBindings } from "../types";
import { ApiError } from "./api-error";

/** The FastAPI-compatible body every error answers with. */
function errorBody(error: ApiError) {
  return { detail: error.detail, code: error.code };
}

export function respondWithError(c: Context, error: ApiError) {
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
  return c.json(errorBody(error), error.status);
}

/** Unknown paths answer JSON like every other error, never a plain-text 404. */
export const notFound: NotFoundHandler<AppBindings> = (c) => respondWithError(c, new ApiError("not_found"));

/**
 * The one error path: an `ApiError` (also one Drizzle wrapped, our D1 503s) is answered as it
 * says; a broken configuration and anything unknown are logged with the request id and answered
 * with a generic 500; a refusal raised by Hono itself keeps its status, never its text.
 */
export function onError(error: Error, c: Context<AppBindings>) {
  const apiError = apiErrorIn(error);
  if (apiError) return respondWithError(c, apiError);
  const requestId = c.get("requestId");
  if (error instanceof ConfigError) {
    console.error(
      JSON.stringify({ level: "error", msg: "invalid configuration", requestId, problems: error.problems }),
    );
    return respondWithError(c, new ApiError("internal_error"));
  }
  if (error instanceof HTTPException && error.status < 500) {
    const refused = "The request body was refused.";
    if (error.status === 413) return respondWithError(c, new ApiError("payload_too_large", refused));
    if (error.status === 415) return respondWithError(c, new ApiError("unsupported_media_type", refused));
    return respondWithError(c, new ApiError("bad_request"));
  }
  console.error(
    JSON.stringify({ level: "error", msg: "unhandled error", requestId, ...describeError(error) }),
  );
  return respondWithError(c, new ApiError("internal_error"));
}

/** The ApiError behind `error`, if any: Drizzle wraps driver errors (our D1 503s) in its own. */
function apiErrorIn(error: unknown): ApiError | undefined {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ApiError) return e;
  }
  return undefined;
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
