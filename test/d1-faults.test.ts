import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { uploadObjectsToDelete, users } from "../src/db/schema";
import { cleanUpStorage } from "../src/jobs/storage-cleanup";
import { originalKeyFor, thumbKeyFor, thumbKeysFor } from "../src/lib/object-keys";
import * as images from "./fixtures/images";
import { call, json } from "./helpers/api";
import { createUpload, createUser, db, readUpload, readUser } from "./helpers/db";
import { faultyD1 } from "./helpers/faulty-d1";
import { bucketChangedBefore } from "./helpers/hooked-r2";
import { expectError, expectUnchanged } from "./helpers/refusals";
import { signToken, tokenFor } from "./helpers/tokens";
import { countUploads, emulated, putObject, startUpload } from "./helpers/uploads";
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
  it("case 41: retries a transient error on the conditional write and succeeds", async () => {
    const { user, upload, token } = await setup();
    const faulty = faultyD1(env.DB, [{ sql: UPDATE, message: LOST, times: 2 }]);
    const res = await patch(token, upload.id, faulty.db);
    expect(res.status).toBe(200);
    expect((await json(res)).hasCustomProfilePicture).toBe(true);
    expect(faulty.attempts[0]).toBe(3);
    expect((await readUser(user.id))?.profilePictureUploadId).toBe(upload.id);
  });

  it("case 41: retries when the reply is lost after the write committed, and the write lands once", async () => {
    const { user, upload, token } = await setup();
    const faulty = faultyD1(env.DB, [{ sql: UPDATE, message: LOST, times: 1, when: "after" }]);
    const res = await patch(token, upload.id, faulty.db);
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body.hasCustomProfilePicture).toBe(true);
    const after = await readUser(user.id);
    expect(after?.profilePictureUploadId).toBe(upload.id);
  });

  it("case 41: answers 503 with Retry-After after three transient failures, and writes nothing", async () => {
    const { user, upload, token } = await setup();
    const faulty = faultyD1(env.DB, [
      {
        sql: UPDATE,
        message: "D1_ERROR: Cannot resolve D1 DB due to transient issue on remote node.",
        times: 99,
      },
    ]);
    const res = await patch(token, upload.id, faulty.db);
    expect(res.headers.get("Retry-After")).toMatch(/^\d+$/);
    await expectError(res, 503, "unavailable");
    expect(faulty.attempts[0]).toBe(3);
    await expectUnchanged(user, upload);
  });

  it.for([
    { name: "is overloaded", message: "D1 DB is overloaded. Too many requests queued." },
    { name: "times out", message: "D1_ERROR: Query timed out." },
    // "reset" like a dropped connection, but the query's own doing: retried, it would fail the same.
    {
      name: "reset the database for the query's CPU time",
      message: "D1_ERROR: D1 DB's isolate exceeded its CPU time limit and was reset.",
    },
    {
      name: "reset the database for the query's memory",
      message: "D1_ERROR: D1 DB's isolate exceeded its memory limit and was reset.",
    },
  ])(
    "case 42: answers 503 with Retry-After at once, without retrying, when D1 $name",
    async ({ message }) => {
      vi.spyOn(console, "error").mockImplementation(() => {});
      const { user, upload, token } = await setup();
      const faulty = faultyD1(env.DB, [{ sql: UPDATE, message, times: 99 }]);
      const res = await patch(token, upload.id, faulty.db);
      await expectError(res, 503, "unavailable");
      expect(faulty.attempts[0]).toBe(1);
      await expectUnchanged(user, upload);
    },
  );

  it.for([
    { name: "the binding's session error", message: "D1_SESSION_ERROR: invalid bookmark or constraint" },
    { name: "a D1 error about the bookmark", message: "D1_ERROR: Bookmark is not valid for this database." },
  ])("retries $name in a new session at the primary, without the refused bookmark", async ({ message }) => {
    const { user, upload, token } = await setup();
    await db().update(users).set({ profilePictureUploadId: upload.id }).where(eq(users.id, user.id));
    // Well formed, but of no state this database reached: newer than anything it will answer.
    const refused = "ffffffff-ffffffff-ffffffff-ffffffffffffffffffffffffffffffff";
    const faulty = faultyD1(env.DB, [{ sql: /^select .* from "users"/i, message, times: 1 }]);

    const res = await call("/api/v1/users/me", {
      token,
      headers: { "x-d1-bookmark": refused },
      env: { DB: faulty.db },
    });

    expect(res.status).toBe(200);
    expect((await json(res)).hasCustomProfilePicture).toBe(true);
    expect(faulty.attempts[0]).toBe(2);
    expect(faulty.db.sessionStarts).toEqual([refused, "first-primary"]);
    // The answer carries the primary's bookmark, not the one D1 refused.
    const answered = res.headers.get("x-d1-bookmark");
    expect(answered).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/);
    expect(answered).not.toBe(refused);
  });

  it("answers 503 with Retry-After when D1 keeps refusing the session, and writes nothing", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const { user, upload, token } = await setup();
    const faulty = faultyD1(env.DB, [
      { sql: UPDATE, message: "D1_ERROR: Bookmark is not valid for this database.", times: 99 },
    ]);
    const res = await patch(token, upload.id, faulty.db);
    await expectError(res, 503, "unavailable");
    expect(faulty.attempts[0]).toBe(3);
    expect(faulty.db.sessionStarts).toEqual(["first-primary", "first-primary", "first-primary"]);
    await expectUnchanged(user, upload);
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

  it("POST /api/v1/uploads: a reply lost after the insert committed is retried into one upload, 201", async () => {
    const { user, token } = await setup();
    const before = await countUploads(user.id);
    const faulty = faultyD1(env.DB, [
      { sql: /^insert into "uploads"/i, message: LOST, times: 1, when: "after" },
    ]);

    const response = await call("/api/v1/uploads", {
      method: "POST",
      token,
      json: { kind: "image", scope: "profile_picture", contentType: "image/png", size: 947 },
      env: { DB: faulty.db },
    });

    expect(response.status).toBe(201);
    expect(faulty.attempts[0]).toBe(2);
    const { upload } = await json<{ upload: { id: string; state: string } }>(response);
    expect(upload.state).toBe("pending");
    expect(await readUpload(upload.id)).toMatchObject({ ownerId: user.id, state: "pending", size: 947 });
    expect(await countUploads(user.id)).toBe(before + 1);
  });
});

describe("D1 replies lost after commit, in uploads and the storage cleanup", () => {
  const HOUR = 60 * 60 * 1000;
  const stored = async (key: string) => (await env.BUCKET.head(key)) !== null;
  const recordedToDelete = async (uploadId: string) =>
    (await db().query.uploadObjectsToDelete.findFirst({
      where: eq(uploadObjectsToDelete.uploadId, uploadId),
    })) !== undefined;

  async function pendingWithBytes() {
    const { user, token } = await setup();
    const started = await startUpload(token, { contentType: "image/png", size: images.png.byteLength });
    expect((await putObject(started.uploadUrl, images.png, started.uploadHeaders)).status).toBe(200);
    return { user, token, id: started.upload.id };
  }

  const complete = (token: string, id: string, db: D1Database) =>
    call(`/api/v1/uploads/${id}/complete`, { method: "POST", token, env: { ...emulated, DB: db } });

  /** The hourly run a day and an hour later, when every pending upload made here is garbage. */
  async function cleanUpNextDay(db: D1Database = env.DB) {
    vi.spyOn(console, "log").mockImplementation(() => {});
    return cleanUpStorage({ ...env, DB: db }, new Date(Date.now() + 25 * HOUR));
  }

  it("complete: a reply lost after the state change committed answers ready and keeps the thumbnails", async () => {
    const { token, id } = await pendingWithBytes();
    const faulty = faultyD1(env.DB, [{ sql: /^update "uploads"/i, message: LOST, times: 1, when: "after" }]);

    const response = await complete(token, id, faulty.db);

    expect(response.status).toBe(200);
    expect((await json(response)).state).toBe("ready");
    expect(faulty.attempts[0]).toBe(2);
    expect(await readUpload(id)).toMatchObject({ state: "ready", thumbKey: thumbKeyFor(id) });
    for (const key of thumbKeysFor(id)) expect(await stored(key), key).toBe(true);
  });

  it("complete: a state change that keeps failing is 503, and the cleanup later deletes the thumbnails it wrote, every size", async () => {
    const { token, id } = await pendingWithBytes();
    const faulty = faultyD1(env.DB, [{ sql: /^update "uploads"/i, message: LOST, times: 99 }]);

    const response = await complete(token, id, faulty.db);

    expect(response.status).toBe(503);
    // Whether the change landed is unknown to complete, so the thumbnails stay; the row says pending.
    expect(await readUpload(id)).toMatchObject({ state: "pending", thumbKey: null, thumbSizes: null });
    for (const key of thumbKeysFor(id)) expect(await stored(key), key).toBe(true);

    await cleanUpNextDay();

    expect(await readUpload(id)).toBeUndefined();
    expect(await stored(originalKeyFor(id))).toBe(false);
    for (const key of thumbKeysFor(id)) expect(await stored(key), key).toBe(false);
  });

  it("complete: thumbnails that land after the cron deleted the row, its state change then failing, are recorded, and the next run deletes them", async () => {
    const { token, id } = await pendingWithBytes();
    // The cron's run a day later takes the pending upload while complete makes its thumbnails:
    // the run deletes the row and the objects there are, then complete stores the thumbnails.
    let run: Promise<unknown> | undefined;
    const bucket = bucketChangedBefore(env.BUCKET, "put", async (key) => {
      if (!key.includes("/thumb-")) return;
      run ??= cleanUpNextDay();
      await run;
    });
    const faulty = faultyD1(env.DB, [{ sql: /^update "uploads"/i, message: LOST, times: 99 }]);

    const response = await call(`/api/v1/uploads/${id}/complete`, {
      method: "POST",
      token,
      env: { ...emulated, DB: faulty.db, BUCKET: bucket },
    });

    expect(response.status).toBe(503);
    expect(await readUpload(id)).toBeUndefined();
    for (const key of thumbKeysFor(id)) expect(await stored(key), key).toBe(true);
    expect(await recordedToDelete(id)).toBe(true);

    await cleanUpNextDay();

    for (const key of [originalKeyFor(id), ...thumbKeysFor(id)]) expect(await stored(key), key).toBe(false);
    expect(await recordedToDelete(id)).toBe(false);
  });

  it("storage cleanup: a run that dies between its batch and the R2 delete leaves the objects recorded, and the next run deletes them", async () => {
    const { user } = await setup();
    const upload = await createUpload(user, { state: "pending", thumbKey: null });
    await env.BUCKET.put(upload.objectKey, "original bytes");
    for (const key of thumbKeysFor(upload.id)) await env.BUCKET.put(key, "thumbnail bytes");
    // The batch commits, then the invocation is gone before it reaches R2.
    const dying = faultyD1(env.DB, [
      { sql: /delete from "uploads"/i, message: "The invocation was cancelled.", times: 1, when: "after" },
    ]);

    await expect(cleanUpNextDay(dying.db)).rejects.toThrow();

    expect(await readUpload(upload.id)).toBeUndefined();
    expect(await stored(upload.objectKey)).toBe(true);
    expect(await recordedToDelete(upload.id)).toBe(true);

    const counts = await cleanUpNextDay();

    expect(counts.objectsRetried).toBeGreaterThanOrEqual(5);
    expect(await stored(upload.objectKey)).toBe(false);
    for (const key of thumbKeysFor(upload.id)) expect(await stored(key), key).toBe(false);
    expect(await recordedToDelete(upload.id)).toBe(false);
  });

  it("storage cleanup: a reply lost after the delete committed is retried, and the objects still go", async () => {
    const { user } = await setup();
    const upload = await createUpload(user, { state: "pending", thumbKey: null });
    await env.BUCKET.put(upload.objectKey, "original bytes");
    for (const key of thumbKeysFor(upload.id)) await env.BUCKET.put(key, "thumbnail bytes");
    const faulty = faultyD1(env.DB, [
      { sql: /^delete from "uploads"/i, message: LOST, times: 1, when: "after" },
    ]);

    const counts = await cleanUpNextDay(faulty.db);

    expect(faulty.attempts[0]).toBe(2);
    expect(counts.pending).toBeGreaterThanOrEqual(1);
    expect(counts.objectsLeft).toBe(0);
    expect(await readUpload(upload.id)).toBeUndefined();
    expect(await stored(upload.objectKey)).toBe(false);
    for (const key of thumbKeysFor(upload.id)) expect(await stored(key), key).toBe(false);
  });
});
