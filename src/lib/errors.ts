import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";

/** One item of a FastAPI-style validation error. */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

export type ErrorCode =
  | "bad_request"
  | "unauthenticated"
  | "forbidden"
  | "user_inactive"
  | "user_not_found"
  | "upload_not_found"
  | "not_found"
  | "method_not_allowed"
  | "upload_not_ready"
  | "payload_too_large"
  | "unsupported_media_type"
  | "validation_error"
  | "upload_wrong_scope"
  | "upload_wrong_kind"
  | "rate_limited"
  | "internal_error"
  | "unavailable";

/**
 * The one error type handlers throw; `onError` turns it into `{"detail", "code"}`. `detail` is
 * always text written here (or validation items built here), never an upstream message.
 */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ErrorCode,
    readonly detail: string | ValidationIssue[],
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof detail === "string" ? detail : code);
    this.name = "ApiError";
  }
}

export const unauthenticated = (detail = "Not authenticated.") =>
  new ApiError(401, "unauthenticated", detail, {
    "WWW-Authenticate": 'Bearer error="invalid_token"',
  });

/**
 * The 404s, built in one place so every "missing" and every "not visible to you" answer is the
 * same body: a caller can never tell another user's row from no row (SECURITY-CASES 18, 19).
 */
export const userNotFound = () => new ApiError(404, "user_not_found", "User not found.");
export const uploadNotFound = () => new ApiError(404, "upload_not_found", "Upload not found.");

export const unavailable = (detail: string, retryAfterSeconds = 5) =>
  new ApiError(503, "unavailable", detail, { "Retry-After": String(retryAfterSeconds) });

export const validationError = (issues: ValidationIssue[]) => new ApiError(422, "validation_error", issues);

/** Map zod issues to FastAPI items, with our own messages so no validator internals leak. */
export function toValidationIssues(
  error: z.ZodError,
  location: "body" | "path" | "query" | "header",
  input: unknown,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const issue of error.issues) {
    const loc = [location, ...issue.path.map((p) => (typeof p === "number" ? p : String(p)))];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        issues.push({ loc: [...loc, key], msg: "Extra inputs are not permitted", type: "extra_forbidden" });
      }
    } else if (issue.code === "invalid_type" && valueAt(input, issue.path) === undefined) {
      issues.push({ loc, msg: "Field required", type: "missing" });
    } else if (issue.code === "invalid_format" && issue.format === "uuid") {
      issues.push({ loc, msg: "Input should be a valid UUID", type: "uuid_parsing" });
    } else if (issue.code === "invalid_type") {
      issues.push({ loc, msg: `Input should be ${article(issue.expected)}`, type: `${issue.expected}_type` });
    } else {
      issues.push({ loc, msg: issue.message, type: "value_error" });
    }
  }
  return issues;
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}

export function errorBody(error: ApiError) {
  return { detail: error.detail, code: error.code };
}

export function respondWithError(c: Context, error: ApiError) {
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
  return c.json(errorBody(error), error.status);
}
