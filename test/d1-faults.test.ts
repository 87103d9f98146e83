import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, json } from "./helpers/api";
import { createUpload, createUser, readUser } from "./helpers/db";
import { faultyD1 } from "./helpers/faulty-d1";
import { signToken, tokenFor } from "./helpers/tokens";
import { mockWorkOS } from "./helpers/workos";

afterEach(() => vi.restoreAllMocks());

const UPDATE = /^update "users"/i;
const LOST = "D1_ERROR: Network connection lost.";

async function setup() {
  mockWorkOS();
  const user = await createUser();
  const upload = await createUpload(user);
  const token = await signToken({ sub: user.workosUserId });
  return { user, upload, token };
}

function patch(token: string, uploadId: string | null, db: D1Database) {
  return call("/api/v1/users/me/profile-picture", {
    method: "PATCH",
    token,
    json: { uploadId },
    env: { DB: db },
  });
}

describe("D1 faults", () => {
  it("retries a transient error on the conditional write and succeeds", async () => {
    const { user, upload, token } = await setup();
    const faulty = faultyD1(env.DB, [{ sql: UPDATE, message: LOST, times: 2 }]);
    const res = await patch(token, upload.id, faulty.db);
    expect(res.status).toBe(200);
    expect((await json(res)).hasCustomProfilePicture).toBe(true);
    expect(faulty.attempts[0]).toBe(3);
    expect((await readUser(user.id))?.profilePictureUploadId).toBe(upload.id);
  });

  it("retries when the reply is lost after the write committed, and the write lands once", async () => {
    const { user, upload, token } = await setup();
    const faulty = faultyD1(env.DB, [{ sql: UPDATE, message: LOST, times: 1, when: "after" }]);
    const res = await patch(token, upload.id, faulty.db);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.hasCustomProfilePicture).toBe(true);
    const after = await readUser(user.id);
    expect(after?.profilePictureUploadId).toBe(upload.id);
  });

  it("answers 503 with Retry-After after three transient failures, and writes nothing", async () => {
    const { user, upload, token } = await setup();
    const faulty = faultyD1(env.DB, [
      {
        sql: UPDATE,
        message: "D1_ERROR: Cannot resolve D1 DB due to transient issue on remote node.",
        times: 99,
      },
    ]);
    const res = await patch(token, upload.id, faulty.db);
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
    expect(await json(res)).toEqual({ detail: expect.any(String), code: "unavailable" });
    expect(faulty.attempts[0]).toBe(3);
    const after = await readUser(user.id);
    expect(after?.profilePictureUploadId).toBeNull();
    expect(after?.updatedAt.getTime()).toBe(user.updatedAt.getTime());
  });

  it("answers 503 at once, without retrying, when D1 is overloaded", async () => {
    const { user, upload, token } = await setup();
    const faulty = faultyD1(env.DB, [
      { sql: UPDATE, message: "D1 DB is overloaded. Too many requests queued.", times: 99 },
    ]);
    const res = await patch(token, upload.id, faulty.db);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
    expect(faulty.attempts[0]).toBe(1);
    expect((await readUser(user.id))?.profilePictureUploadId).toBeNull();
  });

  it("answers 503 when resolving the caller keeps failing, and writes nothing", async () => {
    mockWorkOS();
    // The upload is not ready: the one-statement path misses and the caller is resolved to
    // explain the refusal, which is where D1 fails.
    const user = await createUser();
    const upload = await createUpload(user, { state: "pending" });
    const token = await tokenFor(user);
    const faulty = faultyD1(env.DB, [{ sql: /^select .* from "users"/i, message: LOST, times: 99 }]);
    const res = await patch(token, upload.id, faulty.db);
    expect(res.status).toBe(503);
    expect(faulty.attempts[0]).toBe(3);
    expect(await readUser(user.id)).toEqual(user);
  });

  it("does not retry a non-transient error, and answers a generic 500 that leaks nothing", async () => {
    const { user, upload, token } = await setup();
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const faulty = faultyD1(env.DB, [
      { sql: UPDATE, message: "D1_ERROR: no such column: secret_internal_column: SQLITE_ERROR", times: 99 },
    ]);
    const res = await patch(token, upload.id, faulty.db);
    expect(res.status).toBe(500);
    const body = await json(res);
    expect(body).toEqual({ detail: "Internal server error.", code: "internal_error" });
    expect(JSON.stringify(body)).not.toContain("secret_internal_column");
    expect(faulty.attempts[0]).toBe(1);
    const logged = errors.mock.calls.map((args) => String(args[0])).join("\n");
    expect(logged).toContain(res.headers.get("X-Request-Id") as string);
    expect((await readUser(user.id))?.profilePictureUploadId).toBeNull();
  });
});
