import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq, inArray } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type Upload, type User, uploads, users } from "../src/db/schema";
import worker from "../src/index";
import {
  CLEANUP_BATCH_SIZE,
  cleanUpStorage,
  deleteUnreferencedUploads,
  garbageUploads,
  unreferencedUploadsDelete,
} from "../src/jobs/storage-cleanup";
import { createUpload, createUser, db, readUpload } from "./helpers/db";

/**
 * The job runs "at" a fixed instant in 2001 and every upload here is dated relative to it: other
 * test files date their rows around today, so this file's runs can never pick (or delete) theirs.
 */
const RUN_AT = Date.UTC(2001, 0, 1);
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const ago = (ms: number) => new Date(RUN_AT - ms);

async function runScheduled(scheduledTime = RUN_AT) {
  const controller = createScheduledController({ scheduledTime, cron: "17 * * * *" });
  const ctx = createExecutionContext();
  // Called the way the runtime calls it, with all three arguments.
  const handler: ExportedHandler<Env> = worker;
  if (!handler.scheduled) throw new Error("the worker exports no scheduled handler");
  await handler.scheduled(controller, env, ctx);
  await waitOnExecutionContext(ctx);
}

/** An upload last changed `age` before the run, with its original and thumbnail stored in R2. */
async function storedUpload(owner: User, age: number, overrides: Partial<Upload> = {}) {
  const upload = await createUpload(owner, { createdAt: ago(age), updatedAt: ago(age), ...overrides });
  await env.BUCKET.put(upload.objectKey, "original bytes");
  if (upload.thumbKey) await env.BUCKET.put(upload.thumbKey, "thumbnail bytes");
  return upload;
}

const stored = async (key: string | null) => key !== null && (await env.BUCKET.head(key)) !== null;

async function expectDeleted(upload: Upload) {
  expect(await readUpload(upload.id)).toBeUndefined();
  expect(await stored(upload.objectKey)).toBe(false);
  if (upload.thumbKey) expect(await stored(upload.thumbKey)).toBe(false);
}

async function expectKept(upload: Upload) {
  expect(await readUpload(upload.id)).toEqual(upload);
  expect(await stored(upload.objectKey)).toBe(true);
  if (upload.thumbKey) expect(await stored(upload.thumbKey)).toBe(true);
}

const attach = (user: User, upload: Upload) =>
  db().update(users).set({ profilePictureUploadId: upload.id }).where(eq(users.id, user.id));

afterEach(() => vi.restoreAllMocks());

describe("scheduled storage cleanup", () => {
  it("deletes a pending upload older than 24 hours with its object", async () => {
    const owner = await createUser();
    const upload = await storedUpload(owner, 25 * HOUR, { state: "pending", thumbKey: null });

    await runScheduled();

    await expectDeleted(upload);
  });

  it("keeps a pending upload younger than 24 hours", async () => {
    const owner = await createUser();
    const upload = await storedUpload(owner, 23 * HOUR, { state: "pending", thumbKey: null });

    await runScheduled();

    await expectKept(upload);
  });

  it("deletes a failed upload older than 7 days with its objects", async () => {
    const owner = await createUser();
    const upload = await storedUpload(owner, 8 * DAY, { state: "failed", failureReason: "not an image" });

    await runScheduled();

    await expectDeleted(upload);
  });

  it("keeps a failed upload younger than 7 days", async () => {
    const owner = await createUser();
    const upload = await storedUpload(owner, 6 * DAY, { state: "failed", failureReason: "not an image" });

    await runScheduled();

    await expectKept(upload);
  });

  it("deletes an unreferenced profile picture last changed over 7 days ago, with original and thumbnail", async () => {
    const owner = await createUser();
    const upload = await storedUpload(owner, 8 * DAY);
    expect(upload.thumbKey).not.toBeNull();

    await runScheduled();

    await expectDeleted(upload);
  });

  it("keeps an old unreferenced profile picture that changed within 7 days", async () => {
    const owner = await createUser();
    const upload = await storedUpload(owner, 30 * DAY, { updatedAt: ago(6 * DAY) });

    await runScheduled();

    await expectKept(upload);
  });

  it("keeps a profile picture a user references, however old, with its objects", async () => {
    const owner = await createUser();
    const upload = await storedUpload(owner, 365 * DAY);
    await attach(owner, upload);

    await runScheduled();

    await expectKept(upload);
  });

  it("keeps a profile picture referenced by another user than its owner", async () => {
    const owner = await createUser();
    const other = await createUser();
    const upload = await storedUpload(owner, 365 * DAY);
    await attach(other, upload);

    await runScheduled();

    await expectKept(upload);
  });

  it("keeps a young ready profile picture that is not attached yet", async () => {
    const owner = await createUser();
    const upload = await storedUpload(owner, 1 * HOUR);

    await runScheduled();

    await expectKept(upload);
  });

  it("keeps a ready attachment, however old", async () => {
    const owner = await createUser();
    const upload = await storedUpload(owner, 365 * DAY, { scope: "attachment", kind: "document" });

    await runScheduled();

    await expectKept(upload);
  });

  it("deletes at most one batch per category per run, oldest first, and the rest on the next run", async () => {
    const owner = await createUser();
    const total = CLEANUP_BATCH_SIZE + CLEANUP_BATCH_SIZE / 2;
    // Older than anything else in this file, so the first batch is exactly this owner's oldest rows.
    for (let i = 0; i < total; i++) {
      await createUpload(owner, {
        state: "pending",
        createdAt: ago(1000 * DAY - i * 1000),
        updatedAt: ago(1000 * DAY - i * 1000),
      });
    }
    const remaining = async () =>
      (await db().query.uploads.findMany({ where: eq(uploads.ownerId, owner.id) })).map((u) =>
        u.createdAt.getTime(),
      );

    await runScheduled();

    const afterFirst = await remaining();
    expect(afterFirst).toHaveLength(total - CLEANUP_BATCH_SIZE);
    expect(Math.min(...afterFirst)).toBe(ago(1000 * DAY - CLEANUP_BATCH_SIZE * 1000).getTime());

    await runScheduled();

    expect(await remaining()).toEqual([]);
  });

  it("does not let referenced profile pictures crowd garbage out of a batch", async () => {
    const owner = await createUser();
    // Older than everything else here, so without the reference check it would fill the batch of one.
    const current = await storedUpload(owner, 4000 * DAY);
    await attach(owner, current);
    const garbage = await storedUpload(owner, 3999 * DAY);

    const counts = await cleanUpStorage(env, new Date(RUN_AT), { batchSize: 1 });

    expect(counts.unreferencedProfilePictures).toBe(1);
    await expectKept(current);
    await expectDeleted(garbage);
  });

  it("takes a smaller batch size when asked", async () => {
    const owner = await createUser();
    for (let i = 0; i < 5; i++) {
      await createUpload(owner, { state: "failed", createdAt: ago(2000 * DAY), updatedAt: ago(2000 * DAY) });
    }

    const counts = await cleanUpStorage(env, new Date(RUN_AT), { batchSize: 2 });

    expect(counts.failed).toBe(2);
    expect(await db().query.uploads.findMany({ where: eq(uploads.ownerId, owner.id) })).toHaveLength(3);
  });

  it("logs one JSON line with the counts and no URL", async () => {
    const owner = await createUser();
    await storedUpload(owner, 3000 * DAY, { state: "pending" });
    const log = vi.spyOn(console, "log");

    await runScheduled();

    expect(log).toHaveBeenCalledTimes(1);
    const line = String(log.mock.calls[0]?.[0]);
    expect(line).not.toMatch(/https?:|X-Amz-/i);
    const entry = JSON.parse(line);
    expect(entry).toMatchObject({
      level: "info",
      msg: "storage cleanup",
      now: new Date(RUN_AT).toISOString(),
    });
    expect(entry.deleted).toEqual({
      pending: expect.any(Number),
      failed: expect.any(Number),
      unreferencedProfilePictures: expect.any(Number),
      objects: expect.any(Number),
      objectsLeaked: 0,
    });
    expect(entry.deleted.pending).toBeGreaterThanOrEqual(1);
    expect(entry.deleted.objects).toBeGreaterThanOrEqual(2);
  });
});

describe("deleteUnreferencedUploads", () => {
  it("keeps a candidate that a user attached after it was selected, and deletes the others", async () => {
    const owner = await createUser();
    const racing = await storedUpload(owner, 8 * DAY);
    const garbage = await storedUpload(owner, 8 * DAY);
    // The job chose both; then, before its delete, the owner sets one as their photo.
    const candidates = inArray(uploads.id, [racing.id, garbage.id]);
    await attach(owner, racing);

    const result = await deleteUnreferencedUploads(db(), env.BUCKET, candidates);

    expect(result).toEqual({ uploads: 1, objects: 2, objectsLeaked: 0 });
    await expectKept(racing);
    await expectDeleted(garbage);
  });

  it("deletes the row even when R2 refuses, and reports the objects as leaked", async () => {
    const owner = await createUser();
    const upload = await storedUpload(owner, 8 * DAY);
    const refusingBucket = {
      delete: async () => {
        throw new Error("R2 is down");
      },
    } as unknown as R2Bucket;
    const logError = vi.spyOn(console, "error").mockImplementation(() => {});

    const result = await deleteUnreferencedUploads(db(), refusingBucket, eq(uploads.id, upload.id));

    expect(result).toEqual({ uploads: 1, objects: 0, objectsLeaked: 2 });
    expect(await readUpload(upload.id)).toBeUndefined();
    expect(await stored(upload.objectKey)).toBe(true);
    expect(logError).toHaveBeenCalledWith(expect.stringContaining(upload.objectKey));
  });
});

describe("storage cleanup query plans", () => {
  it("finds every category's batch through indexes, never a table scan", async () => {
    const database = db();
    for (const [category, candidates] of Object.entries(garbageUploads(database, new Date(RUN_AT), 100))) {
      const { sql, params } = unreferencedUploadsDelete(database, candidates).toSQL();
      const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .bind(...params)
        .all<{ detail: string }>();
      const plan = results.map((row) => row.detail).join("\n");

      expect(plan, category).toContain("uploads_state_created_at_idx");
      expect(plan, category).toContain("users_profile_picture_upload_id_idx");
      expect(plan, category).not.toMatch(/^SCAN (uploads|users)\b/m);
    }
  });
});

describe("detaching a profile picture restarts its 7 days", () => {
  it("stamps the replaced or removed upload, so an old photo detached just now is kept", async () => {
    const owner = await createUser();
    const old = await storedUpload(owner, 30 * DAY);
    const newer = await storedUpload(owner, 30 * DAY);
    const neverAttached = await storedUpload(owner, 30 * DAY);
    await attach(owner, old);

    const before = Date.now();
    await attach(owner, newer); // replaces `old`
    await db().update(users).set({ profilePictureUploadId: null }).where(eq(users.id, owner.id)); // removes `newer`

    for (const detached of [old, newer]) {
      expect((await readUpload(detached.id))?.updatedAt.getTime()).toBeGreaterThanOrEqual(before);
    }
    expect(await readUpload(neverAttached.id)).toEqual(neverAttached);

    await runScheduled();

    for (const detached of [old, newer]) {
      expect(await readUpload(detached.id)).toBeDefined();
      expect(await stored(detached.objectKey)).toBe(true);
    }
    await expectDeleted(neverAttached);
  });

  it("leaves the upload alone when the same photo is set again", async () => {
    const owner = await createUser();
    const photo = await storedUpload(owner, 30 * DAY);
    await attach(owner, photo);
    const attached = await readUpload(photo.id);
    await attach(owner, photo);
    expect(await readUpload(photo.id)).toEqual(attached);
  });
});
