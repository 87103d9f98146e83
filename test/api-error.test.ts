import { describe, expect, it } from "vitest";
import { ApiError, errorCatalogue, retryAfter } from "../src/lib/errors/api-error";

/** The contract's table of statuses and codes (CONTRACT.md, "Shape of every response"), and the two it leaves to us. */
const CONTRACT: Record<keyof typeof errorCatalogue, number> = {
  bad_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  user_inactive: 403,
  quota_exceeded: 403,
  user_not_found: 404,
  upload_not_found: 404,
  not_found: 404,
  method_not_allowed: 405,
  upload_not_ready: 409,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_error: 422,
  upload_wrong_scope: 422,
  upload_wrong_kind: 422,
  upload_invalid: 422,
  rate_limited: 429,
  internal_error: 500,
  unavailable: 503,
};

describe("the error catalogue", () => {
  it.for(Object.entries(CONTRACT))("gives %s the status %i", ([code, status]) => {
    expect(errorCatalogue[code as keyof typeof errorCatalogue].status).toBe(status);
  });

  it("lists no code the contract does not", () => {
    expect(Object.keys(errorCatalogue).sort()).toEqual(Object.keys(CONTRACT).sort());
  });

  it("builds an error from its code: the status, a detail, the headers it must carry", () => {
    const error = new ApiError("unavailable", "D1 is down.", retryAfter(2));
    expect({ status: error.status, code: error.code, detail: error.detail, headers: error.headers }).toEqual({
      status: 503,
      code: "unavailable",
      detail: "D1 is down.",
      headers: { "Retry-After": "2" },
    });
  });

  it("gives every instance of a not-found code the same body", () => {
    expect(new ApiError("user_not_found").detail).toBe("User not found.");
    expect(new ApiError("upload_not_found").detail).toBe("Upload not found.");
  });

  it("refuses, at compile time, an error without the header or the detail its code needs", () => {
    // @ts-expect-error A 503 without Retry-After does not compile.
    expect(new ApiError("unavailable", "down").headers).toEqual({});
    // @ts-expect-error A 405 without Allow does not compile.
    expect(new ApiError("method_not_allowed", "no").headers).toEqual({});
    // @ts-expect-error A 403 forbidden says why: its detail is required.
    expect(new ApiError("forbidden").detail).toBe("forbidden");
  });
});
