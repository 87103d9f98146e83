import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq, inArray } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createDb } from "../src/db/client";
import {
  type Upload,
  type User,
  uploadObjectsToDelete,
  uploads,
  users,
  webhookEvents,
} from "../src/db/schema";
import worker from "../src/index";
import {
  CLEANUP_LIMITS,
  cleanUpStorage,
  D1_QUERIES_PER_INVOCATION,
  deleteUnreferencedUploads,
  WEBHOOK_EVENT_RETENTION_MS,
  worstCaseQueries,
  worstCaseSubrequests,
} from "../src/jobs/storage-cleanup";
import { loadConfig } from "../src/lib/config";
import { MAX_ATTEMPTS } from "../src/lib/d1";
import { thumbKeyFor, thumbKeysFor } from "../src/lib/object-keys";
import { presignThumbUrl } from "../src/lib/presign";
import { R2_DELETE_MAX_KEYS } from "../src/pictures/objects-to-delete";
import { call } from "./helpers/api";
import { changedBefore, countingD1 } from "./helpers/counting-d1";
import { createUpload, createUser, db, readUpload, readUser } from "./helpers/db";
import { tokenFor } from "./helpers/tokens";
import { emulated, putObject, startUpload } from "./helpers/uploads";
import { mockWorkOS } from "./helpers/workos";
import { deliverWebhook, newWorkOSUserId, workosEvent, workosUserObject } from "./helpers/workos-users";

/**
 * The job runs "at" a fixed instant in 2001 and every upload here is dated relative to it: other
 * test files date their rows around today, so this file's runs can never pick (or delete) theirs.
 */
const RUN_AT = Date.UTC(2001, 0, 1);
const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
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

/** The thumbnails an upload's row says it has: every size, or the 256 px one of an upload from before there were sizes. */
const thumbnailKeysOf = (upload: Upload) =>
  upload.thumbSizes
    ? upload.thumbSizes.map((size) => thumbKeyFor(upload.id, size))
    : upload.thumbKey
      ? [upload.thumbKey]
      : [];

/** An upload last changed `age` before the run, with its original and thumbnails stored in R2. */
async function storedUpload(owner: User, age: number, overrides: Partial<Upload> = {}) {
  const upload = await createUpload(owner, { createdAt: ago(age), updatedAt: ago(age), ...overrides });
  await env.BUCKET.put(upload.objectKey, "original bytes");
  for (const key of thumbnailKeysOf(upload)) await env.BUCKET.put(key, "thumbnail bytes");
  return upload;
}

const stored = async (key: string | null) => key !== null && (await env.BUCKET.head(key)) !== null;

/** Whether the upload's objects are recorded to delete (its row gone, its objects not yet). */
const recordedToDelete = async (uploadId: string) =>
  (await db().query.uploadObjectsToDelete.findFirst({
    where: eq(uploadObjectsToDelete.uploadId, uploadId),
  })) !== undefined;

/** The row, the original and a thumbnail in every size are gone. */
async function expectDeleted(upload: Upload) {
  expect(await readUpload(upload.id)).toBeUndefined();
  expect(await stored(upload.objectKey)).toBe(false);
  for (const key of thumbKeysFor(upload.id)) expect(await stored(key), key).toBe(false);
}

/**
 * The row (unchanged, but for the dates the service keeps of garbage, which setting a photo or
 * deleting its owner moves: tested on their own below), the original and its thumbnails are there.
 */
async function expectKept(upload: Upload) {
  expect(await readUpload(upload.id)).toEqual({
    ...upload,
    unreferencedSince: expect.toBeOneOf([null, expect.any(Date)]),
    ownerDeletedAt: expect.toBeOneOf([null, expect.any(Date)]),
  });
  expect(await stored(upload.objectKey)).toBe(true);
  for (const key of thumbnailKeysOf(upload)) expect(await stored(key), key).toBe(true);
}

const attach = (user: User, upload: Upload) =>
  db().update(users).set({ profilePictureUploadId: upload.id }).where(eq(users.id, user.id));

afterEach(() => vi.restoreAllMocks());

/** Run `cleanUpStorage` and return what it logged (one JSON line) with its counts. */
async function cleanUpLogged(limits: Parameters<typeof cleanUpStorage>[2] = {}) {
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  const counts = await cleanUpStorage(env, new Date(RUN_AT), limits);
  expect(log).toHaveBeenCalledTimes(1);
  const line = String(log.mock.calls[0]?.[0]);
  log.mockRestore();
  return { counts, logged: JSON.parse(line) };
}

/** `count` pending uploads of `owner`, one second apart, older than anything else in this file. */
async function oldPendingUploads(owner: User, count: number, daysAgo: number) {
  for (let i = 0; i < count; i++) {
    await createUpload(owner, {
      state: "pending",
      createdAt: ago(daysAgo * DAY - i * 1000),
      updatedAt: ago(daysAgo * DAY - i * 1000),
    });
  }
}

const remainingOf = async (owner: User) =>
  (await db().query.uploads.findMany({ where: eq(uploads.ownerId, owner.id) })).map((u) =>
    u.createdAt.getTime(),
  );

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

  it("deletes an unreferenced profile picture last changed over 7 days ago, with original and every thumbnail", async () => {
    const owner = await createUser();
    const upload = await storedUpload(owner, 8 * DAY);
    expect(upload.thumbSizes).toEqual([64, 128, 256, 512]);

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

  it("clears more than one batch in one run, until a batch comes back short", async () => {
    const owner = await createUser();
    await oldPendingUploads(owner, 10, 1000);

    const { counts, logged } = await cleanUpLogged({ batchSize: 3 });

    expect(await remainingOf(owner)).toEqual([]);
    expect(counts.pending).toBe(10);
    // 3 + 3 + 3 + 1: the fourth batch came back short.
    expect(logged).toMatchObject({ level: "info", batchSize: 3, rounds: 4, left: {} });
  });

  it("starts no new round once the time budget is spent, oldest first, and logs what it left", async () => {
    const owner = await createUser();
    await oldPendingUploads(owner, 10, 1100);

    const { counts, logged } = await cleanUpLogged({ batchSize: 3, timeBudgetMs: 0 });

    expect(counts.pending).toBe(3);
    const remaining = await remainingOf(owner);
    expect(remaining).toHaveLength(7);
    expect(Math.min(...remaining)).toBe(ago(1100 * DAY - 3 * 1000).getTime());
    expect(logged).toMatchObject({ level: "warn", rounds: 1, left: { pending: 7 } });

    const next = await cleanUpLogged({ batchSize: 3, maxRounds: 2 });
    expect(next.counts.pending).toBe(6);
    expect(next.logged).toMatchObject({ level: "warn", rounds: 2, left: { pending: 1 } });
  });

  it("does not let referenced profile pictures crowd garbage out of a batch", async () => {
    const owner = await createUser();
    // Older than everything else here, so without the reference check it would fill the batch of one.
    const current = await storedUpload(owner, 4000 * DAY);
    await attach(owner, current);
    const garbage = await storedUpload(owner, 3999 * DAY);

    const counts = await cleanUpStorage(env, new Date(RUN_AT), { batchSize: 1, maxRounds: 1 });

    expect(counts.unreferencedProfilePictures).toBe(1);
    await expectKept(current);
    await expectDeleted(garbage);
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
      ofDeletedUsers: expect.any(Number),
      objects: expect.any(Number),
      objectsLeft: 0,
      objectsRetried: expect.any(Number),
      webhookEvents: expect.any(Number),
    });
    expect(entry.left).toEqual({});
    expect(entry.deleted.pending).toBeGreaterThanOrEqual(1);
    expect(entry.deleted.objects).toBeGreaterThanOrEqual(2);
  });
});

describe("deleteUnreferencedUploads", () => {
  it("keeps a candidate that a user attached after it was selected, and deletes the others", async () => {
    const owner = await createUser();
    const racing = await storedUpload(owner, 8 * DAY);
    const garbage = await storedUpload(owner, 8 * DAY);
    // The batch selects both; then, just before its delete, the owner sets one as their photo.
    const racingDb = changedBefore(env.DB, /^delete from "uploads"/i, () => attach(owner, racing));

    const result = await deleteUnreferencedUploads(
      createDb(racingDb),
      env.BUCKET,
      { where: inArray(uploads.id, [racing.id, garbage.id]) },
      10,
    );

    // The original and four thumbnails of the one deleted.
    expect(result).toEqual({ selected: 2, uploads: 1, objects: 5, objectsLeft: 0 });
    await expectKept(racing);
    await expectDeleted(garbage);
  });

  it("deletes a batch's objects, an original and four thumbnails each, in R2 calls of at most 1,000 keys", async () => {
    const owner = await createUser();
    // 201 uploads, 1,005 keys: one key more than one call takes.
    for (let i = 0; i < 201; i++) await createUpload(owner);
    const calls: number[] = [];
    const countingBucket = {
      delete: async (keys: string[]) => {
        calls.push(keys.length);
        await env.BUCKET.delete(keys);
      },
    } as unknown as R2Bucket;

    const result = await deleteUnreferencedUploads(
      db(),
      countingBucket,
      { where: eq(uploads.ownerId, owner.id) },
      201,
    );

    expect(result).toEqual({ selected: 201, uploads: 201, objects: 1005, objectsLeft: 0 });
    expect(calls).toEqual([R2_DELETE_MAX_KEYS, 5]);
  });

  it("deletes the row even when R2 refuses, and leaves its objects recorded for the next run, which deletes them", async () => {
    const owner = await createUser();
    const upload = await storedUpload(owner, 8 * DAY);
    const refusingBucket = {
      delete: async () => {
        throw new Error("R2 is down");
      },
    } as unknown as R2Bucket;
    const logError = vi.spyOn(console, "error").mockImplementation(() => {});

    const result = await deleteUnreferencedUploads(
      db(),
      refusingBucket,
      { where: eq(uploads.id, upload.id) },
      10,
    );

    expect(result).toEqual({ selected: 1, uploads: 1, objects: 0, objectsLeft: 5 });
    expect(await readUpload(upload.id)).toBeUndefined();
    expect(await stored(upload.objectKey)).toBe(true);
    expect(await recordedToDelete(upload.id)).toBe(true);
    expect(logError).toHaveBeenCalledWith(expect.stringContaining(upload.id));

    const { counts } = await cleanUpLogged();

    expect(counts.objectsRetried).toBeGreaterThanOrEqual(5);
    await expectDeleted(upload);
    expect(await recordedToDelete(upload.id)).toBe(false);
  });

  it("deletes the thumbnails by the keys derived from the id, every size, also when the row never recorded them", async () => {
    const owner = await createUser();
    // A complete wrote the thumbnails, then its state change failed: pending, no thumb_key.
    const upload = await storedUpload(owner, 25 * HOUR, { state: "pending", thumbKey: null });
    for (const key of thumbKeysFor(upload.id)) await env.BUCKET.put(key, "thumbnail bytes");

    await runScheduled();

    await expectDeleted(upload);
  });

  it("deletes an upload completed before there were sizes: its one thumbnail, the missing sizes costing nothing", async () => {
    const owner = await createUser();
    const legacy = await storedUpload(owner, 8 * DAY, { thumbSizes: null });
    expect(await stored(thumbKeyFor(legacy.id, 64))).toBe(false);
    expect(await stored(thumbKeyFor(legacy.id))).toBe(true);

    const counts = await cleanUpStorage(env, new Date(RUN_AT));

    await expectDeleted(legacy);
    expect(counts.objectsLeft).toBe(0);
  });
});

describe("uploads of deleted users", () => {
  /** A user taken out of service by WorkOS's `user.deleted`, delivered to the webhook. */
  const deleteUser = async (user: User) =>
    expect((await deliverWebhook(workosEvent("user.deleted", { id: user.workosUserId }))).status).toBe(200);

  it("deletes every upload of a deleted user at the next run, whatever its state or age, with its objects", async () => {
    const owner = await createUser();
    const photo = await storedUpload(owner, 1 * HOUR);
    await attach(owner, photo);
    const owned = [
      photo,
      await storedUpload(owner, 1 * HOUR, { state: "pending", thumbKey: null }),
      await storedUpload(owner, 1 * HOUR, { state: "failed", failureReason: "not an image", thumbKey: null }),
      await storedUpload(owner, 365 * DAY, { scope: "attachment", kind: "document", thumbKey: null }),
    ];
    const bystander = await createUser();
    const theirs = await storedUpload(bystander, 1 * HOUR);
    await deleteUser(owner);

    const counts = await cleanUpStorage(env, new Date(RUN_AT));

    expect(counts.ofDeletedUsers).toBe(owned.length);
    for (const upload of owned) await expectDeleted(upload);
    await expectKept(theirs);
  });

  it("keeps a deleted user's pending and failed uploads while their upload URL may still write, and takes them at the first run after", async () => {
    const owner = await createUser();
    const ready = await storedUpload(owner, 1 * MINUTE);
    const writable = [
      await storedUpload(owner, 5 * MINUTE, { state: "pending", thumbKey: null }),
      await storedUpload(owner, 24 * MINUTE, {
        state: "failed",
        failureReason: "not an image",
        thumbKey: null,
      }),
    ];
    await deleteUser(owner);

    const counts = await cleanUpStorage(env, new Date(RUN_AT));

    // A ready upload's URL is spent (write-once): it goes at once.
    expect(counts.ofDeletedUsers).toBe(1);
    await expectDeleted(ready);
    for (const upload of writable) await expectKept(upload);

    // Ten minutes of validity and fifteen of clock skew after each started.
    await cleanUpStorage(env, new Date(RUN_AT + 2 * MINUTE));
    await expectDeleted(writable[1] as Upload);
    await expectKept(writable[0] as Upload);
    await cleanUpStorage(env, new Date(RUN_AT + 21 * MINUTE));
    await expectDeleted(writable[0] as Upload);
  });

  it("end to end: bytes PUT through a URL handed out before user.deleted land under a row, and the run after its expiry deletes both", async () => {
    mockWorkOS();
    const owner = await createUser();
    const started = await startUpload(await tokenFor(owner), { contentType: "image/png", size: 5 });
    expect(
      (await deliverWebhook(workosEvent("user.deleted", workosUserObject(owner.workosUserId)))).status,
    ).toBe(200);
    const now = Date.now();

    await cleanUpStorage(env, new Date(now));
    const put = await putObject(started.uploadUrl, new Uint8Array(5), started.uploadHeaders);

    expect(put.status).toBe(200);
    const upload = (await readUpload(started.upload.id)) as Upload;
    expect(upload).toMatchObject({ ownerId: owner.id, state: "pending" });
    expect(await stored(upload.objectKey)).toBe(true);

    await cleanUpStorage(env, new Date(now + 26 * MINUTE));

    await expectDeleted(upload);
  });

  it("answers 404 for a thumbnail URL handed out before the user was deleted", async () => {
    const owner = await createUser();
    const photo = await storedUpload(owner, 1 * HOUR);
    await attach(owner, photo);
    const url = await presignThumbUrl(loadConfig({ ...env, ...emulated } as Env), photo.thumbKey as string);
    expect((await call(url, { env: emulated })).status).toBe(200);
    await deleteUser(owner);

    await runScheduled();

    const response = await call(url, { env: emulated });
    expect(response.status).toBe(404);
    expect(await response.text()).toContain("<Code>NoSuchKey</Code>");
  });

  it("end to end: after WorkOS's user.deleted webhook, the next run deletes the user's uploads", async () => {
    const owner = await createUser();
    const photo = await storedUpload(owner, 1 * HOUR);
    await attach(owner, photo);
    const attachment = await storedUpload(owner, 1 * HOUR, {
      scope: "attachment",
      kind: "document",
      thumbKey: null,
    });

    const delivered = await deliverWebhook(workosEvent("user.deleted", workosUserObject(owner.workosUserId)));
    expect(delivered.status).toBe(200);
    expect(await db().query.users.findFirst({ where: eq(users.id, owner.id) })).toMatchObject({
      state: "deleted",
      profilePictureUploadId: null,
    });

    await runScheduled();

    await expectDeleted(photo);
    await expectDeleted(attachment);
  });

  it("end to end: a photo an admin set from their own upload goes with the teammate WorkOS deleted, URL and all", async () => {
    const admin = await createUser({ role: "admin" });
    const teammate = await createUser();
    const photo = await storedUpload(admin, 1 * HOUR);
    await attach(teammate, photo);
    const url = await presignThumbUrl(loadConfig({ ...env, ...emulated } as Env), photo.thumbKey as string);
    const adminsOwn = await storedUpload(admin, 1 * HOUR);
    await attach(admin, adminsOwn);

    const delivered = await deliverWebhook(
      workosEvent("user.deleted", workosUserObject(teammate.workosUserId)),
    );
    expect(delivered.status).toBe(200);
    expect(await readUpload(photo.id)).toMatchObject({ ownerId: teammate.id });

    await runScheduled();

    await expectDeleted(photo);
    expect((await call(url, { env: emulated })).status).toBe(404);
    await expectKept(adminsOwn);
  });

  it("hands a deleted user's photo over but keeps it while a live user also has it as their photo", async () => {
    const admin = await createUser({ role: "admin" });
    const teammate = await createUser();
    const photo = await storedUpload(admin, 1 * HOUR);
    await attach(teammate, photo);
    await attach(admin, photo);

    expect(
      (await deliverWebhook(workosEvent("user.deleted", workosUserObject(teammate.workosUserId)))).status,
    ).toBe(200);
    await runScheduled();

    // Kept, bytes and all, now the deleted user's: it goes once the admin no longer has it either.
    expect(await readUpload(photo.id)).toEqual({
      ...photo,
      ownerId: teammate.id,
      updatedAt: expect.any(Date),
      // Shown by the admin: no garbage; dated by its new owner's deletion, for when it is.
      unreferencedSince: null,
      ownerDeletedAt: expect.any(Date),
    });
    expect(await stored(photo.objectKey)).toBe(true);
    for (const key of thumbnailKeysOf(photo)) expect(await stored(key), key).toBe(true);
    expect((await readUser(admin.id))?.profilePictureUploadId).toBe(photo.id);
  });

  it("keeps a deleted user's upload that a live user still has as their photo", async () => {
    // An admin set a teammate's photo from the admin's own upload, then the admin was deleted.
    const admin = await createUser({ role: "admin" });
    const teammate = await createUser();
    const shared = await storedUpload(admin, 1 * HOUR);
    const other = await storedUpload(admin, 1 * HOUR);
    await attach(teammate, shared);
    await deleteUser(admin);

    await runScheduled();

    await expectKept(shared);
    await expectDeleted(other);
  });
});

describe("the date a photo stopped being shown, which the cleanup's 7 days count from", () => {
  it("is cleared while a user shows the photo, and set when it is replaced or removed, so an old photo detached just now is kept", async () => {
    const owner = await createUser();
    const old = await storedUpload(owner, 30 * DAY);
    const newer = await storedUpload(owner, 30 * DAY);
    const neverAttached = await storedUpload(owner, 30 * DAY);
    await attach(owner, old);
    expect(await readUpload(old.id)).toMatchObject({ unreferencedSince: null });

    const before = Date.now();
    await attach(owner, newer); // replaces `old`
    expect(await readUpload(newer.id)).toMatchObject({ unreferencedSince: null });
    await db().update(users).set({ profilePictureUploadId: null }).where(eq(users.id, owner.id)); // removes `newer`

    for (const detached of [old, newer]) {
      expect((await readUpload(detached.id))?.unreferencedSince?.getTime()).toBeGreaterThanOrEqual(before);
    }
    expect(await readUpload(neverAttached.id)).toEqual(neverAttached);

    await runScheduled();

    for (const detached of [old, newer]) {
      expect(await readUpload(detached.id)).toBeDefined();
      expect(await stored(detached.objectKey)).toBe(true);
    }
    await expectDeleted(neverAttached);
  });

  it("is not set while another user still shows the photo, and is once the last one stops", async () => {
    const owner = await createUser();
    const other = await createUser();
    const shared = await storedUpload(owner, 30 * DAY);
    await attach(owner, shared);
    await attach(other, shared);

    await db().update(users).set({ profilePictureUploadId: null }).where(eq(users.id, owner.id));
    expect(await readUpload(shared.id)).toMatchObject({ unreferencedSince: null });
    const before = Date.now();
    await db().update(users).set({ profilePictureUploadId: null }).where(eq(users.id, other.id));
    expect((await readUpload(shared.id))?.unreferencedSince?.getTime()).toBeGreaterThanOrEqual(before);
  });

  it("is cleared and set for an imported WorkOS picture as for a custom photo", async () => {
    const owner = await createUser();
    const first = await storedUpload(owner, 30 * DAY, { origin: "import" });
    const second = await storedUpload(owner, 30 * DAY, { origin: "import" });
    const show = (upload: Upload | null) =>
      db()
        .update(users)
        .set({ importedPictureUploadId: upload?.id ?? null })
        .where(eq(users.id, owner.id));
    await show(first);
    expect(await readUpload(first.id)).toMatchObject({ unreferencedSince: null });
    const before = Date.now();
    await show(second);
    expect((await readUpload(first.id))?.unreferencedSince?.getTime()).toBeGreaterThanOrEqual(before);
    expect(await readUpload(second.id)).toMatchObject({ unreferencedSince: null });
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

describe("processed webhook event ids", () => {
  /** Event ids received `ages` before the run, as the webhook records them. */
  async function eventsReceived(...ages: number[]) {
    const rows = ages.map((age) => ({
      id: `event_${crypto.randomUUID().replaceAll("-", "")}`,
      event: "session.created",
      receivedAt: ago(age),
    }));
    await db().insert(webhookEvents).values(rows);
    return rows.map((row) => row.id);
  }

  const remembered = async (ids: string[]) =>
    (
      await db().select({ id: webhookEvents.id }).from(webhookEvents).where(inArray(webhookEvents.id, ids))
    ).map((row) => row.id);

  it("are forgotten in a share of the run of their own, also when the uploads took all of theirs", async () => {
    const owner = await createUser();
    await oldPendingUploads(owner, 3, 1200);
    const [old] = await eventsReceived(1200 * DAY);

    // No time at all for uploads: one round, and a backlog left.
    const { counts, logged } = await cleanUpLogged({ batchSize: 1, timeBudgetMs: 0 });

    expect(logged.left.pending).toBeGreaterThan(0);
    expect(counts.webhookEvents).toBeGreaterThanOrEqual(1);
    expect(await remembered([old as string])).toEqual([]);
  });

  it("are forgotten 30 days after they were received, and not a minute before", async () => {
    const [old, justPast, justInside, recent] = await eventsReceived(
      400 * DAY,
      WEBHOOK_EVENT_RETENTION_MS + 60_000,
      WEBHOOK_EVENT_RETENTION_MS - 60_000,
      DAY,
    );

    const { counts, logged } = await cleanUpLogged();

    expect(new Set(await remembered([old, justPast, justInside, recent] as string[]))).toEqual(
      new Set([justInside, recent]),
    );
    expect(counts.webhookEvents).toBe(2);
    expect(logged).toMatchObject({ level: "info", deleted: { webhookEvents: 2 }, left: {} });
  });

  it("go oldest first, a batch a statement, and a run that stops early logs how many are left", async () => {
    const ids = await eventsReceived(500 * DAY, 499 * DAY, 498 * DAY, 497 * DAY, 496 * DAY);

    const { counts, logged } = await cleanUpLogged({ eventBatchSize: 2, maxEventBatches: 2 });

    expect(counts.webhookEvents).toBe(4);
    expect(await remembered(ids)).toEqual([ids[4]]);
    expect(logged).toMatchObject({ level: "warn", left: { webhookEvents: 1 } });

    const next = await cleanUpLogged({ eventBatchSize: 2, maxEventBatches: 2 });
    expect(next.counts.webhookEvents).toBe(1);
    expect(await remembered(ids)).toEqual([]);
    expect(next.logged).toMatchObject({ level: "info", left: {} });
  });

  it("once forgotten, an old event delivered again changes nothing: every event's write is guarded", async () => {
    const workosUserId = newWorkOSUserId();
    const older = workosEvent(
      "user.updated",
      workosUserObject(workosUserId, { first_name: "Ada", updated_at: "2026-11-01T00:00:00.000Z" }),
    );
    const newer = workosEvent(
      "user.updated",
      workosUserObject(workosUserId, { first_name: "Grace", updated_at: "2026-11-02T00:00:00.000Z" }),
    );
    for (const event of [older, newer]) expect((await deliverWebhook(event)).status).toBe(200);
    // Received long before the run, as if a month had passed.
    await db()
      .update(webhookEvents)
      .set({ receivedAt: ago(WEBHOOK_EVENT_RETENTION_MS + DAY) })
      .where(inArray(webhookEvents.id, [older.id, newer.id]));
    const stored = await db().query.users.findFirst({ where: eq(users.workosUserId, workosUserId) });

    await runScheduled();
    expect(await remembered([older.id, newer.id])).toEqual([]);

    expect((await deliverWebhook(older)).status).toBe(200);
    const after = await db().query.users.findFirst({ where: eq(users.workosUserId, workosUserId) });
    expect(after).toEqual(stored);
    expect(after?.firstName).toBe("Grace");
  });
});

describe("a run's cost in D1 queries", () => {
  it("case 52: stays within D1's 1,000 queries an invocation, every query tried three times, and the Workers' 1,000 subrequests", () => {
    expect(worstCaseQueries(CLEANUP_LIMITS)).toBeLessThanOrEqual(D1_QUERIES_PER_INVOCATION);
    expect(worstCaseSubrequests(CLEANUP_LIMITS)).toBeLessThanOrEqual(1000);
  });

  it("sends no more statements than that worst case counts, at every limit reached", async () => {
    const limits = {
      ...CLEANUP_LIMITS,
      batchSize: 1,
      maxRounds: 3,
      maxRetryBatches: 2,
      eventBatchSize: 1,
      maxEventBatches: 2,
    };
    // More garbage of every kind than the limits let one run take, so every loop runs to its limit
    // and the run ends counting what it left.
    const owner = await createUser();
    for (let i = 0; i < 4; i++) {
      await storedUpload(owner, 5000 * DAY + i, { state: "pending", thumbKey: null });
      await storedUpload(owner, 5000 * DAY + i, { state: "failed", failureReason: "x", thumbKey: null });
      await storedUpload(owner, 5000 * DAY + i);
    }
    const deleted = await createUser();
    for (let i = 0; i < 4; i++) await storedUpload(deleted, 1 * HOUR);
    expect((await deliverWebhook(workosEvent("user.deleted", { id: deleted.workosUserId }))).status).toBe(
      200,
    );
    await db()
      .insert(uploadObjectsToDelete)
      .values([0, 1, 2].map((i) => ({ uploadId: crypto.randomUUID(), recordedAt: ago(5000 * DAY + i) })));
    await db()
      .insert(webhookEvents)
      .values(
        [0, 1, 2].map((i) => ({
          id: `event_${crypto.randomUUID()}`,
          event: "user.updated",
          receivedAt: ago(5000 * DAY + i),
        })),
      );
    const counting = countingD1(env.DB);
    vi.spyOn(console, "log").mockImplementation(() => {});

    await cleanUpStorage({ ...env, DB: counting }, new Date(RUN_AT), limits);

    // Each statement once here; the worst case counts each tried MAX_ATTEMPTS times.
    expect(counting.statements.length).toBeGreaterThan(0);
    expect(counting.statements.length * MAX_ATTEMPTS).toBeLessThanOrEqual(worstCaseQueries(limits));
  });
});

describe("a run with nothing to delete", () => {
  it("reads a few rows however many photos are in use and tombstones are kept: garbage only", async () => {
    // Whatever earlier tests left is cleared first; then a run that finds nothing, as the baseline.
    await cleanUpLogged();
    const before = (await cleanUpLogged()).logged;
    expect(before.left).toEqual({});

    // 40 photos in use, long past 7 days old, and 20 users deleted long ago, their uploads gone.
    for (let i = 0; i < 40; i++) {
      const owner = await createUser();
      await attach(
        owner,
        await createUpload(owner, { createdAt: ago(4000 * DAY), updatedAt: ago(4000 * DAY) }),
      );
    }
    for (let i = 0; i < 20; i++) {
      const gone = await createUser();
      expect((await deliverWebhook(workosEvent("user.deleted", { id: gone.workosUserId }))).status).toBe(200);
    }
    await cleanUpLogged();

    const after = (await cleanUpLogged()).logged;
    expect(after.deleted).toMatchObject({ unreferencedProfilePictures: 0, ofDeletedUsers: 0 });
    // The same few rows as before: reading the photos in use, or the tombstones, would add 40 or 20.
    expect(after.d1RowsRead - before.d1RowsRead).toBeLessThanOrEqual(2);
  }, 30_000);
});
