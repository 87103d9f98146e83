import { createMiddleware } from "hono/factory";
import { ApiError, type ErrorCode } from "./errors/api-error";
import { readLimited } from "./limited-body";
import type { AppBindings } from "./types";

/** Largest JSON body accepted, counted on the bytes received (chunked bodies too). */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

/** `application/json`, optionally with a UTF-8 charset (RFC 8259 JSON is UTF-8); nothing else. */
const JSON_MEDIA_TYPE = /^application\/json(?:;[ \t]*charset=(?:"utf-8"|utf-8))?$/i;

/** What `jsonBody` answers with. */
export const jsonBodyErrors = [
  "unsupported_media_type",
  "payload_too_large",
  "validation_error",
] as const satisfies readonly ErrorCode[];

/**
 * Gate for JSON endpoints: 415 unless the body is declared JSON, 413 past the size limit, 422
 * `json_invalid` when it does not parse. The parsed value is put in Hono's body cache, so the
 * zod validator that runs next sees exactly what was checked here. Duplicate keys: the last one
 * wins (as `JSON.parse` does), and that value is what gets validated.
 */
export const jsonBody = createMiddleware<AppBindings>(async (c, next) => {
  const contentType = c.req.header("content-type")?.trim() ?? "";
  if (!JSON_MEDIA_TYPE.test(contentType)) {
    throw new ApiError("unsupported_media_type", "The request body must be application/json.");
  }
  const bytes = await readLimited(c.req.raw, MAX_JSON_BODY_BYTES);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw new ApiError("validation_error", [
      { loc: ["body"], msg: "JSON decode error", type: "json_invalid" },
    ]);
  }
  c.req.bodyCache.json = Promise.resolve(parsed);
  await next();
});
