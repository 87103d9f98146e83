import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { NewUser, Upload, User } from "../../src/db/schema";
import { type CallOptions, call } from "./api";
import { countingD1 } from "./counting-d1";
import { createUpload, createUser, type MembershipOverrides, readUpload, readUser } from "./db";
import { tokenFor } from "./tokens";

/** Checking that a request was refused the contract's way and wrote nothing. */

export interface ErrorBody {
  detail: string | { loc: (string | number)[]; msg: string; type: string }[];
  code: string;
}

/** `{"detail", "code"}` and nothing else, with the `Retry-After` the contract wants on 429 and 503. */
export async function expectError(response: Response, status: number, code: string): Promise<ErrorBody> {
  const body = (await response.json()) as ErrorBody;
  expect({ status: response.status, code: body.code }).toEqual({ status, code });
  expect(Object.keys(body).sort()).toEqual(["code", "detail"]);
  if (status === 429 || status === 503)
    expect(Number(response.headers.get("Retry-After"))).toBeGreaterThan(0);
  return body;
}

/** A refused bearer token: 401 with the RFC 6750 challenge and the one generic body. */
export async function expectUnauthenticated(response: Response): Promise<void> {
  expect(response.headers.get("WWW-Authenticate")).toBe('Bearer error="invalid_token"');
  expect(await expectError(response, 401, "unauthenticated")).toEqual({
    detail: "Not authenticated.",
    code: "unauthenticated",
  });
}

/** A uniform 422: one FastAPI item at `loc`, and no validator internals. */
export async function expectValidationErrorAt(response: Response, loc: (string | number)[]): Promise<void> {
  const body = await expectError(response, 422, "validation_error");
  expect(body.detail).toEqual([{ loc, msg: expect.any(String), type: expect.any(String) }]);
  expect(JSON.stringify(body)).not.toMatch(/zod|expected|received|invalid_|stack/i);
}

/** Every row given reads back exactly as it was. */
export async function expectUnchanged(...rows: (User | Upload)[]): Promise<void> {
  for (const row of rows) {
    expect("workosUserId" in row ? await readUser(row.id) : await readUpload(row.id)).toEqual(row);
  }
}

/** A user with a ready upload that a successful PATCH would attach: unchanged means refused. */
export async function victim(overrides: Partial<NewUser> & MembershipOverrides = {}) {
  const user = await createUser(overrides);
  return { user, upload: await createUpload(user), token: await tokenFor(user) };
}
export type Victim = Awaited<ReturnType<typeof victim>>;

/** Try to attach the victim's upload with `authorization`; counts the D1 round trips it caused. */
export async function attemptPatch(
  target: Victim,
  authorization: string | undefined,
  envOverrides: CallOptions["env"] = {},
) {
  const d1 = countingD1(env.DB);
  const response = await call("/api/v1/users/me/profile-picture", {
    method: "PATCH",
    headers: authorization === undefined ? {} : { Authorization: authorization },
    json: { uploadId: target.upload.id },
    env: { DB: d1, ...envOverrides },
  });
  return { response, d1 };
}
