import { z } from "@hono/zod-openapi";
import type { ErrorCode } from "./errors";

/**
 * An RFC 9562 UUID (version digit 1-8, variant 8-b) in the hyphenated 8-4-4-4-12 form, in either
 * case; normalised to lower case. Braced, URN and hyphen-less forms, and hex strings that are not
 * UUIDs, are refused (422). The nil and max UUIDs are well-formed and simply match nothing (404).
 * The same rule holds for every id on every route.
 */
export const Uuid = z
  .uuid()
  .overwrite((value) => value.toLowerCase())
  .openapi({ example: "3c90c3cc-0d44-4b50-8888-8dd25736052a" });

export const DateTime = z.string().openapi({ format: "date-time", example: "2023-11-07T05:31:56Z" });

const ValidationItem = z.object({
  loc: z.array(z.union([z.string(), z.number()])),
  msg: z.string(),
  type: z.string(),
});

export const ErrorResponse = z
  .object({
    detail: z.union([z.string(), z.array(ValidationItem)]),
    code: z.string(),
  })
  .openapi("ErrorResponse");

export const ValidationErrorResponse = z
  .object({ detail: z.array(ValidationItem), code: z.literal("validation_error") })
  .openapi("ValidationErrorResponse");

/** Routes that take a WorkOS access token. */
export const bearerSecurity = [{ Bearer: [] }];

/** The 422 declaration of a route whose only 422 is a validation error. */
export const validationErrors = {
  description: "Validation error (code: `validation_error`)",
  content: { "application/json": { schema: ValidationErrorResponse } },
};

/** An error response declaration for a route, naming the codes it can carry. */
export function errorResponse(description: string, codes: ErrorCode[]) {
  return {
    description: `${description} (code: ${codes.map((code) => `\`${code}\``).join(", ")})`,
    content: { "application/json": { schema: ErrorResponse } },
  };
}

export const authErrors = {
  401: errorResponse("Missing, invalid or expired access token", ["unauthenticated"]),
  403: errorResponse("The caller's account is not active, or the caller may not do this", [
    "user_inactive",
    "forbidden",
  ]),
  429: errorResponse("Too many requests; see Retry-After", ["rate_limited"]),
  500: errorResponse("Internal error; logged with the request id", ["internal_error"]),
  503: errorResponse("A dependency (JWKS, WorkOS API, D1) is unavailable; see Retry-After", ["unavailable"]),
} as const;

export const jsonBodyErrors = {
  413: errorResponse("Body over 64 KB", ["payload_too_large"]),
  415: errorResponse("Body is not application/json", ["unsupported_media_type"]),
} as const;
