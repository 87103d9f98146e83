import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ValidationIssue } from "./validation-issues";

interface CatalogueEntry {
  status: ContentfulStatusCode;
  /** When a route answers with it, in the words `/openapi.json` uses. */
  when: string;
  /**
   * The detail of every instance that names none: one body wherever it is thrown, so that, for a
   * 404, a caller can never tell another user's row from no row (SECURITY-CASES 18, 19).
   */
  detail?: string;
  /** Headers every instance must be given, their values depending on the case. */
  requires?: readonly string[];
}

/**
 * Every error code the service answers with, and what it means: its status (the one place it is
 * written), its headers, and when it happens. `ApiError` takes its status from here and the routes'
 * OpenAPI error declarations are built from here (`errorResponses`).
 *
 * `WWW-Authenticate` is the bearer authentication's (`unauthenticated()` in identity/access-token.ts),
 * not the code's: the webhook's 401 is about a signature, and a challenge names a scheme the
 * resource accepts (RFC 9110 §11.6.1).
 */
export const errorCatalogue = {
  bad_request: {
    status: 400,
    when: "Correctly signed, but not a valid WorkOS event (the webhook)",
    detail: "Bad request.",
  },
  unauthenticated: {
    status: 401,
    when: "Missing, invalid or expired credentials: the access token (with `WWW-Authenticate`), or the webhook's signature",
  },
  forbidden: { status: 403, when: "The caller may not do this" },
  user_inactive: {
    status: 403,
    when: "The caller's account is not active",
    detail: "This account is not active.",
  },
  quota_exceeded: {
    status: 403,
    when: "A storage quota of the caller's is reached; `detail` says what is used and the limit; nothing stored",
  },
  user_not_found: {
    status: 404,
    when: "No such user, or not visible to the caller",
    detail: "User not found.",
  },
  upload_not_found: {
    status: 404,
    when: "No such upload, or not the caller's",
    detail: "Upload not found.",
  },
  not_found: { status: 404, when: "No such path", detail: "Not found." },
  method_not_allowed: {
    status: 405,
    when: "The path does not serve this method; see `Allow`",
    requires: ["Allow"],
  },
  upload_not_ready: { status: 409, when: "The upload is not ready to be used yet; nothing written" },
  precondition_failed: {
    status: 412,
    when: "`If-Match` names a profile version that is no longer current; nothing written",
    detail: "The profile has changed since the version If-Match names; nothing was written. Read it again.",
  },
  payload_too_large: { status: 413, when: "The body is over the route's size limit" },
  unsupported_media_type: {
    status: 415,
    when: "The body's `Content-Type` is not one the route takes (`application/json`, or an image type)",
  },
  validation_error: {
    status: 422,
    when: "A parameter or the body is not valid; `detail` lists each problem",
  },
  upload_wrong_scope: { status: 422, when: "The upload was made for another scope than this use" },
  upload_wrong_kind: { status: 422, when: "The upload is of another kind than this use takes" },
  upload_invalid: {
    status: 422,
    when: "The image sent fails the checks (its real type, decodable, sane dimensions); `detail` says why; nothing is kept",
  },
  rate_limited: { status: 429, when: "Too many requests; see `Retry-After`", requires: ["Retry-After"] },
  internal_error: {
    status: 500,
    when: "Internal error; logged with the request id",
    detail: "Internal server error.",
  },
  unavailable: {
    status: 503,
    when: "A dependency (JWKS, WorkOS API, D1) is unavailable; see `Retry-After`",
    requires: ["Retry-After"],
  },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof errorCatalogue;

/** The codes whose instances need no header of their own. */
export type HeaderlessErrorCode = {
  [C in ErrorCode]: (typeof errorCatalogue)[C] extends { requires: readonly string[] } ? never : C;
}[ErrorCode];

type Detail = string | ValidationIssue[];

/** What `new ApiError(code, …)` takes after the code: a detail unless the code has one, and the headers it requires. */
type ApiErrorArgs<C extends ErrorCode> = (typeof errorCatalogue)[C] extends {
  requires: readonly (infer Header extends string)[];
}
  ? [detail: Detail, headers: Record<Header, string>]
  : (typeof errorCatalogue)[C] extends { detail: string }
    ? [detail?: Detail, headers?: Record<string, string>]
    : [detail: Detail, headers?: Record<string, string>];

/**
 * The one error type the service throws; `onError` turns it into `{"detail", "code"}` with the
 * code's status. `detail` is always text written here (or validation items built here), never an
 * upstream message.
 */
export class ApiError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly status: ContentfulStatusCode;
  readonly detail: Detail;
  readonly headers: Readonly<Record<string, string>>;

  constructor(code: C, ...args: ApiErrorArgs<C>) {
    const [detail, headers] = args as [Detail | undefined, Record<string, string> | undefined];
    const entry: CatalogueEntry = errorCatalogue[code];
    const resolved = detail ?? entry.detail ?? code;
    super(typeof resolved === "string" ? resolved : code);
    this.name = "ApiError";
    this.code = code;
    this.status = entry.status;
    this.detail = resolved;
    this.headers = headers ?? {};
  }
}

/** The `Retry-After` header: how many seconds a refused client waits. */
export const retryAfter = (seconds: number) => ({ "Retry-After": String(seconds) });
