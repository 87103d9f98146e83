import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type Upload, type User, uploadObjectsToDelete, uploads } from "../src/db/schema";
import { cleanUpStorage } from "../src/jobs/storage-cleanup";
import { chunksReleasedAsRead, readChunksLimited } from "../src/lib/limited-body";
import {
  originalKeyFor,
  THUMB_SIZES,
  type ThumbSize,
  thumbKeyFor,
  thumbKeysFor,
} from "../src/lib/object-keys";
import { MAX_PENDING_UPLOADS_PER_USER } from "../src/pictures/upload-rules";
import { MAX_IMAGE_BODY_BYTES, receiveImage } from "../src/routes/users/image-body";
import * as images from "./fixtures/images";
import { type CallOptions, call, json } from "./helpers/api";
import { changedBefore, countingD1 } from "./helpers/counting-d1";
import { createUpload, createUser, db, readUpload, readUser } from "./helpers/db";
import { faultyD1 } from "./helpers/faulty-d1";
import { bucketChangedBefore } from "./helpers/hooked-r2";
import { laggingReplica } from "./helpers/lagging-replica";
import { expectError, expectUnchanged, expectValidationErrorAt } from "./helpers/refusals";
import { tokenFor } from "./helpers/tokens";
import { countUploads, imageInfo, imageOfEveryType } from "./helpers/uploads";
import { mockWorkOS } from "./helpers/workos";

beforeEach(() => {
  mockWorkOS();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const ME = "/api/v1/users/me/profile-picture";
const shared = (userId: string) => `/api/v1/shared/users/${userId}/profile-picture`;
/** Both one-call PUTs, each sent by `user` about themself. */
const putRoutes = [
  { route: "PUT /users/me", path: (_user: User) => ME },
  { route: "PUT /shared/users/{user_id}", path: (user: User) => shared(user.id) },
];

interface Profile {
  id: string;
  profilePictureUrl: string | null;
  hasCustomProfilePicture: boolean;
}

interface PutOptions {
  /** Sent without `Content-Length`, in chunks, as a stream of unknown length is. */
  chunked?: boolean;
  headers?: Record<string, string>;
  env?: CallOptions["env"];
}

/** `bytes` in chunks of 64 KiB, as a stream without a length; `pulled()` says how many were read. */
function chunkedStream(bytes: Uint8Array) {
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(pulled, pulled + 65_536));
      pulled += 65_536;
    },
  });
  return { stream, pulled: () => Math.min(pulled, bytes.byteLength) };
}

/**
 * PUT an image as the body, as an HTTP client sends a file: with its `Content-Length` (curl's
 * `--data-binary @photo.jpg`), or chunked without one. `contentType: null` sends none.
 */
async function putImage(
  path: string,
  caller: User,
  bytes: Uint8Array,
  contentType: string | null,
  options: PutOptions = {},
) {
  const headers: Record<string, string> = { ...options.headers };
  if (contentType !== null) headers["Content-Type"] = contentType;
  if (!options.chunked) headers["Content-Length"] = String(bytes.byteLength);
  return call(path, {
    method: "PUT",
    token: await tokenFor(caller),
    body: options.chunked ? chunkedStream(bytes).stream : bytes,
    headers,
    ...(options.env ? { env: options.env } : {}),
  });
}

/** The real bucket, recording the key of every object written through it. */
function recordingBucket(real: R2Bucket = env.BUCKET) {
  const written: string[] = [];
  const bucket = bucketChangedBefore(real, "put", async (key) => written.push(key));
  return { bucket, written };
}

/** Whether the upload's objects are recorded for the storage cleanup to delete (its row gone). */
const recordedToDelete = async (uploadId: string) =>
  (await db().query.uploadObjectsToDelete.findFirst({
    where: eq(uploadObjectsToDelete.uploadId, uploadId),
  })) !== undefined;

/** The upload ids whose objects a request wrote, from the keys it wrote. */
const uploadIdsIn = (keys: string[]) => [...new Set(keys.map((key) => key.split("/")[1] as string))];

/** Nothing of upload `id` is kept: no row, no original, no thumbnail in any size. */
async function expectNothingKept(id: string) {
  expect(await readUpload(id), `upload ${id}`).toBeUndefined();
  for (const key of [originalKeyFor(id), ...thumbKeysFor(id)])
    expect(await env.BUCKET.head(key), key).toBeNull();
}

/** A request that stored something kept none of it: every upload it wrote to is gone. */
async function expectNothingLeftBy(written: string[]) {
  expect(written.length).toBeGreaterThan(0);
  for (const id of uploadIdsIn(written)) await expectNothingKept(id);
}

/** The request stored nothing: no object written, `user` unchanged, their uploads as many as before. */
async function expectNothingStored(written: string[], user: User, uploadsBefore = 0) {
  expect(written).toEqual([]);
  await expectUnchanged(user);
  expect(await countUploads(user.id)).toBe(uploadsBefore);
}

/** The photo a one-call PUT set for `user`, as it reads back. */
async function onePutSet(path: string, user: User, caller: User = user) {
  const { bucket, written } = recordingBucket();
  const response = await putImage(path, caller, images.png, "image/png", { env: { BUCKET: bucket } });
  expect(response.status).toBe(200);
  const [id] = uploadIdsIn(written);
  return { response, id: id as string, user: (await readUser(user.id)) as User };
}

describe("PUT /api/v1/users/me/profile-picture: a photo in one call", () => {
  it.for(imageOfEveryType)(
    "sets a real $name: the caller's upload, ready with every thumbnail size (read back), attached",
    async ({ bytes, contentType, shorterSide }) => {
      const user = await createUser();
      const { bucket, written } = recordingBucket();

      const response = await putImage(ME, user, bytes, contentType, { env: { BUCKET: bucket } });

      expect(response.status).toBe(200);
      expect(response.headers.get("ETag")).toMatch(/^"\d+\./);
      const [id] = uploadIdsIn(written) as [string];
      const profile = await json<Profile>(response);
      expect(profile).toMatchObject({ id: user.id, hasCustomProfilePicture: true });
      expect(profile.profilePictureUrl).toContain(`/${thumbKeyFor(id, 256)}?`);
      expect(await readUpload(id)).toMatchObject({
        ownerId: user.id,
        scope: "profile_picture",
        kind: "image",
        state: "ready",
        contentType,
        size: bytes.byteLength,
        thumbSizes: [...THUMB_SIZES],
      });
      expect(await readUser(user.id)).toMatchObject({
        profilePictureUploadId: id,
        profilePictureThumbSizes: [...THUMB_SIZES],
      });
      const original = await env.BUCKET.get(originalKeyFor(id));
      expect(new Uint8Array(await (original as R2ObjectBody).arrayBuffer())).toEqual(bytes);
      for (const size of THUMB_SIZES) {
        const thumb = await env.BUCKET.get(thumbKeyFor(id, size));
        const side = Math.min(size, shorterSide);
        expect(await imageInfo(await (thumb as R2ObjectBody).arrayBuffer()), `${size} px`).toMatchObject({
          format: "image/webp",
          width: side,
          height: side,
        });
      }
    },
  );

  it("reads a body sent chunked, without Content-Length, and sets it the same", async () => {
    const user = await createUser();
    const { bucket, written } = recordingBucket();

    const response = await putImage(ME, user, images.jpeg, "image/jpeg", {
      chunked: true,
      env: { BUCKET: bucket },
    });

    expect(response.status).toBe(200);
    const [id] = uploadIdsIn(written) as [string];
    expect(await readUpload(id)).toMatchObject({ state: "ready", size: images.jpeg.byteLength });
    expect((await readUser(user.id))?.profilePictureUploadId).toBe(id);
  });

  it("answers with the thumbnail pictureSize asks for, and the ETag a GET then gives", async () => {
    const user = await createUser();
    const { bucket, written } = recordingBucket();

    const response = await putImage(`${ME}?pictureSize=64`, user, images.webp, "image/webp", {
      env: { BUCKET: bucket },
    });

    const [id] = uploadIdsIn(written) as [string];
    expect((await json<Profile>(response)).profilePictureUrl).toContain(`/${thumbKeyFor(id, 64)}?`);
    const read = await call("/api/v1/users/me?pictureSize=64", { token: await tokenFor(user) });
    expect(read.headers.get("ETag")).toBe(response.headers.get("ETag"));
  });

  it("replaces a photo set before, which stays stored for the cleanup as after a PATCH", async () => {
    const first = await onePutSet(ME, await createUser());

    const second = await onePutSet(ME, first.user);

    expect(second.user.profilePictureUploadId).toBe(second.id);
    expect(await readUpload(first.id)).toMatchObject({ state: "ready" });
  });

  it("makes 4 D1 round trips: the caller, the upload's row, its settling, and the PATCH's one statement", async () => {
    const user = await createUser();
    const d1 = countingD1(env.DB);

    const response = await putImage(ME, user, images.png, "image/png", { env: { DB: d1 } });

    expect(response.status).toBe(200);
    expect(d1.trips.map((sql) => /^\w+( into)? "?\w+"?/i.exec(sql)?.[0])).toEqual([
      'select "users"',
      'insert into "uploads"',
      'update "uploads"',
      'update "users"',
    ]);
    expect(response.headers.get("x-d1-bookmark")).toBeTruthy();
  });

  it("has the upload ready, the caller's, of scope profile_picture and kind image, before the statement that attaches it", async () => {
    const user = await createUser();
    let atAttach: Upload[] | undefined;
    const d1 = changedBefore(env.DB, /^update "users"/i, async () => {
      atAttach = await db().query.uploads.findMany({ where: eq(uploads.ownerId, user.id) });
    });

    expect((await putImage(ME, user, images.png, "image/png", { env: { DB: d1 } })).status).toBe(200);

    expect(atAttach).toEqual([
      expect.objectContaining({ ownerId: user.id, scope: "profile_picture", kind: "image", state: "ready" }),
    ]);
  });
});

describe("PUT /api/v1/shared/users/{user_id}/profile-picture: who may act on whom", () => {
  it("lets an admin set a teammate's photo in one call, with an upload of the admin's own, in 5 D1 round trips", async () => {
    const admin = await createUser({ role: "admin" });
    const teammate = await createUser();
    const { bucket, written } = recordingBucket();
    const d1 = countingD1(env.DB);

    const response = await putImage(shared(teammate.id), admin, images.gif, "image/gif", {
      env: { BUCKET: bucket, DB: d1 },
    });

    expect(response.status).toBe(200);
    const [id] = uploadIdsIn(written) as [string];
    expect(await json<Profile>(response)).toMatchObject({ id: teammate.id, hasCustomProfilePicture: true });
    expect((await readUser(teammate.id))?.profilePictureUploadId).toBe(id);
    expect(await readUpload(id)).toMatchObject({ ownerId: admin.id, state: "ready" });
    expect((await readUser(admin.id))?.profilePictureUploadId).toBeNull();
    // The four of /users/me, and the teammate read that checks who may act on whom first.
    expect(d1.roundTrips).toBe(5);
  });

  it("lets a member set their own photo by id", async () => {
    const user = await createUser();
    const { id, user: after } = await onePutSet(shared(user.id), user);
    expect(after.profilePictureUploadId).toBe(id);
  });

  it.for([
    {
      name: "case 17: a member, on a teammate",
      setup: async () => ({ caller: await createUser(), target: await createUser() }),
      status: 403,
      code: "forbidden",
    },
    {
      name: "case 18: an admin, on a user of another organization",
      setup: async () => ({
        caller: await createUser({ role: "admin" }),
        target: await createUser({ organizationId: "org_other" }),
      }),
      status: 404,
      code: "user_not_found",
    },
    {
      name: "an admin, on a teammate whose user was deleted",
      setup: async () => ({
        caller: await createUser({ role: "admin" }),
        target: await createUser({ state: "deleted" }),
      }),
      status: 404,
      code: "user_not_found",
    },
    {
      name: "an admin, on a user who does not exist",
      setup: async () => ({
        caller: await createUser({ role: "admin" }),
        target: { id: crypto.randomUUID() } as User,
      }),
      status: 404,
      code: "user_not_found",
    },
  ])(
    "$name: $status $code, before a byte is stored: no object, no upload",
    async ({ setup, status, code }) => {
      const { caller, target } = await setup();
      const { bucket, written } = recordingBucket();

      const response = await putImage(shared(target.id), caller, images.png, "image/png", {
        env: { BUCKET: bucket },
      });

      await expectError(response, status, code);
      await expectNothingStored(written, caller);
      if (target.workosUserId) await expectUnchanged(target);
    },
  );
});

describe("PUT profile-picture: the caller's state", () => {
  it.for(
    (
      [
        { state: "inactive", status: 403, code: "user_inactive" },
        { state: "deleted", status: 401, code: "unauthenticated" },
      ] as const
    ).flatMap((row) => putRoutes.map((route) => ({ ...row, ...route }))),
  )(
    "case 22: $route answers $status $code to a caller who is $state, before a byte is stored",
    async ({ state, status, code, path }) => {
      const user = await createUser({ state });
      const { bucket, written } = recordingBucket();

      const response = await putImage(path(user), user, images.png, "image/png", { env: { BUCKET: bucket } });

      await expectError(response, status, code);
      await expectNothingStored(written, user);
    },
  );
});

describe("PUT profile-picture: the body", () => {
  // The reasons are `complete`'s own, word for word: the same code checks both.
  it.for([
    {
      name: "text declared as image/png",
      bytes: new TextEncoder().encode("not a picture"),
      type: "image/png",
      reason: "The bytes are not image/png.",
    },
    {
      name: "PNG bytes declared as image/jpeg",
      bytes: images.png,
      type: "image/jpeg",
      reason: "The bytes are not image/jpeg (they look like image/png).",
    },
    {
      name: "a PNG too wide to decode safely",
      bytes: images.tooWide,
      type: "image/png",
      reason: "The image is 12001x1 px; at most 12000 px a side is accepted.",
    },
    {
      name: "a truncated PNG",
      bytes: images.png.slice(0, 300),
      type: "image/png",
      reason: "The image could not be decoded.",
    },
  ])(
    "refuses $name with 422 upload_invalid and the reason; the previous photo stays, nothing is kept",
    async ({ bytes, type, reason }) => {
      vi.spyOn(console, "warn").mockImplementation(() => {});
      const { user } = await onePutSet(ME, await createUser());
      const { bucket, written } = recordingBucket();

      const response = await putImage(ME, user, bytes, type, { env: { BUCKET: bucket } });

      expect(await expectError(response, 422, "upload_invalid")).toEqual({
        detail: reason,
        code: "upload_invalid",
      });
      await expectUnchanged(user);
      expect(await countUploads(user.id)).toBe(1);
      await expectNothingLeftBy(written);
    },
  );

  it.for([{ chunked: false }, { chunked: true }])(
    "refuses an empty body (chunked: $chunked) with 422 upload_invalid, storing nothing",
    async ({ chunked }) => {
      const user = await createUser();
      const { bucket, written } = recordingBucket();
      const response = await putImage(ME, user, new Uint8Array(), "image/png", {
        chunked,
        env: { BUCKET: bucket },
      });
      expect((await expectError(response, 422, "upload_invalid")).detail).toMatch(/empty/);
      await expectNothingStored(written, user);
    },
  );

  it.for<[string, string | null]>([
    ["no Content-Type", null],
    ["application/json", "application/json"],
    ["application/octet-stream", "application/octet-stream"],
    ["text/plain", "text/plain"],
    ["image/svg+xml", "image/svg+xml"],
    ["image/png with a parameter", "image/png; q=1"],
    ["application/pdf (an attachment's type, not a photo's)", "application/pdf"],
  ])("refuses a body sent as %s with 415, storing nothing", async ([, contentType]) => {
    const user = await createUser();
    const { bucket, written } = recordingBucket();
    const response = await putImage(ME, user, images.png, contentType, { env: { BUCKET: bucket } });
    const body = await expectError(response, 415, "unsupported_media_type");
    expect(body.detail).toBe(
      "The request body must be an image: image/jpeg, image/png, image/webp, image/gif.",
    );
    await expectNothingStored(written, user);
  });

  it("takes the type in any case: IMAGE/PNG", async () => {
    const user = await createUser();
    expect((await putImage(ME, user, images.png, "IMAGE/PNG")).status).toBe(200);
  });

  it("case 30: refuses 10 MiB + 1 byte with Content-Length with 413, before a byte is read or stored", async () => {
    const user = await createUser();
    const { bucket, written } = recordingBucket();
    const d1 = countingD1(env.DB);

    const response = await putImage(ME, user, new Uint8Array(MAX_IMAGE_BODY_BYTES + 1), "image/png", {
      env: { BUCKET: bucket, DB: d1 },
    });

    expect(await expectError(response, 413, "payload_too_large")).toEqual({
      detail: "The request body is larger than 10485760 bytes.",
      code: "payload_too_large",
    });
    expect(d1.roundTrips).toBe(0);
    await expectNothingStored(written, user);
  });

  it("case 30: refuses 10 MiB + 1 byte sent chunked, without Content-Length, with 413, storing nothing", async () => {
    const user = await createUser();
    const { bucket, written } = recordingBucket();

    const response = await putImage(ME, user, new Uint8Array(MAX_IMAGE_BODY_BYTES + 1), "image/png", {
      chunked: true,
      env: { BUCKET: bucket },
    });

    await expectError(response, 413, "payload_too_large");
    await expectNothingStored(written, user);
  });

  it("stops reading a chunked body once it passes 10 MiB", async () => {
    const user = await createUser();
    const huge = chunkedStream(new Uint8Array(50 * 1024 * 1024));

    const response = await call(ME, {
      method: "PUT",
      token: await tokenFor(user),
      body: huge.stream,
      headers: { "Content-Type": "image/png" },
    });

    await expectError(response, 413, "payload_too_large");
    expect(huge.pulled()).toBeLessThan(MAX_IMAGE_BODY_BYTES + 4 * 65_536);
  });

  it("takes a body of exactly 10 MiB to the checks (the limit is inclusive)", async () => {
    const user = await createUser();
    const text = new Uint8Array(MAX_IMAGE_BODY_BYTES).fill(0x61);
    const response = await putImage(ME, user, text, "image/png");
    expect((await expectError(response, 422, "upload_invalid")).detail).toBe("The bytes are not image/png.");
    expect(await countUploads(user.id)).toBe(0);
  });
});

describe("PUT profile-picture: all or nothing", () => {
  /** The local Images binding, failing the `failAt`-th transform as the Images service does when unavailable. */
  function imagesFailingAt(failAt: number): ImagesBinding {
    let transforms = 0;
    return new Proxy(env.IMAGES, {
      get(target, property) {
        const value = Reflect.get(target, property);
        if (typeof value !== "function") return value;
        if (property !== "input") return value.bind(target);
        return (...args: unknown[]) => {
          if (++transforms === failAt) throw Object.assign(new Error("Images unavailable"), { code: 9510 });
          return value.apply(target, args);
        };
      },
    });
  }

  it("a fault in the Images step midway (the second size): 503, nothing attached, nothing left", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const { user } = await onePutSet(ME, await createUser());
    const { bucket, written } = recordingBucket();

    const response = await putImage(ME, user, images.jpeg, "image/jpeg", {
      env: { BUCKET: bucket, IMAGES: imagesFailingAt(2) },
    });

    await expectError(response, 503, "unavailable");
    await expectUnchanged(user);
    expect(await countUploads(user.id)).toBe(1);
    await expectNothingLeftBy(written);
  });

  it("an R2 fault while the thumbnails are stored (the others still landing): 500, nothing attached, nothing left", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const user = await createUser();
    // The 512 px write fails at once; the other sizes' writes land a moment later.
    const { bucket, written } = recordingBucket(
      bucketChangedBefore(env.BUCKET, "put", async (key) => {
        if (key.endsWith("thumb-512.webp")) throw new Error("R2 put failed");
        if (key.includes("/thumb-")) await new Promise((resolve) => setTimeout(resolve, 50));
      }),
    );

    const response = await putImage(ME, user, images.png, "image/png", { env: { BUCKET: bucket } });

    await expectError(response, 500, "internal_error");
    // Had the request answered before every write settled, they would land now, after its cleanup.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(written.filter((key) => key.includes("/thumb-")).length).toBe(THUMB_SIZES.length);
    await expectUnchanged(user);
    await expectNothingLeftBy(written);
    expect(errors.mock.calls.join("\n")).toContain("R2 put failed");
  });

  it("a D1 fault settling the upload: 503, nothing attached, nothing left", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const user = await createUser();
    const { bucket, written } = recordingBucket();
    const faulty = faultyD1(env.DB, [
      { sql: /^update "uploads"/i, message: "D1_ERROR: overloaded", times: 1 },
    ]);

    const response = await putImage(ME, user, images.png, "image/png", {
      env: { BUCKET: bucket, DB: faulty.db },
    });

    await expectError(response, 503, "unavailable");
    await expectUnchanged(user);
    await expectNothingLeftBy(written);
  });

  it("objects R2 cannot delete at once stay recorded, logged, and the storage cleanup's next run deletes them", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.spyOn(console, "log").mockImplementation(() => {});
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const user = await createUser();
    const { bucket, written } = recordingBucket(
      bucketChangedBefore(env.BUCKET, "delete", async () => {
        throw new Error("R2 delete failed");
      }),
    );

    const response = await putImage(ME, user, images.png, "image/png", {
      env: { BUCKET: bucket, IMAGES: imagesFailingAt(1) },
    });

    await expectError(response, 503, "unavailable");
    await expectUnchanged(user);
    const [id] = uploadIdsIn(written) as [string];
    const logged = errors.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    expect(logged).toContainEqual(
      expect.objectContaining({
        msg: "objects not deleted; the storage cleanup's next run tries again",
        uploadIds: [id],
        error: "R2 delete failed",
      }),
    );
    // The row went first; its objects stay recorded, and the next run deletes them, whenever it runs.
    expect(await readUpload(id)).toBeUndefined();
    expect(await env.BUCKET.head(originalKeyFor(id))).not.toBeNull();
    expect(await recordedToDelete(id)).toBe(true);
    await cleanUpStorage(env, new Date());
    await expectNothingKept(id);
    expect(await recordedToDelete(id)).toBe(false);
  });

  it("never deletes the objects of a photo its lost attach set, even when a lagging replica says it is not attached", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const user = await createUser();
    const { bucket, written } = recordingBucket();
    // Every try of the attaching statement commits and loses its reply: D1 gives up (503), the photo
    // set. A read of "who shows this upload?" from a replica would not see it yet.
    const replica = laggingReplica(
      env.DB,
      /^select .* from "users" where .*"profile_picture_upload_id" = \?/i,
    );
    const faulty = faultyD1(replica, [
      { sql: /^update "users"/i, message: "D1_ERROR: Network connection lost.", times: 99, when: "after" },
    ]);

    const response = await putImage(ME, user, images.png, "image/png", {
      env: { BUCKET: bucket, DB: faulty.db },
    });

    await expectError(response, 503, "unavailable");
    const [id] = uploadIdsIn(written) as [string];
    expect((await readUser(user.id))?.profilePictureUploadId).toBe(id);
    expect(await readUpload(id)).toMatchObject({ state: "ready" });
    for (const key of [originalKeyFor(id), ...thumbKeysFor(id)])
      expect(await env.BUCKET.head(key), key).not.toBeNull();
    expect(await recordedToDelete(id)).toBe(false);
  });

  it("keeps the upload when the attaching statement wrote though its reply was lost: a photo in use is never deleted", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const user = await createUser();
    const etag = (await call("/api/v1/users/me", { token: await tokenFor(user) })).headers.get(
      "ETag",
    ) as string;
    const { bucket, written } = recordingBucket();
    // The statement commits, its reply is lost, and D1's retry finds the profile at a new version.
    const faulty = faultyD1(env.DB, [
      { sql: /^update "users"/i, message: "D1_ERROR: Network connection lost.", times: 1, when: "after" },
    ]);

    const response = await putImage(ME, user, images.png, "image/png", {
      headers: { "If-Match": etag },
      env: { BUCKET: bucket, DB: faulty.db },
    });

    const [id] = uploadIdsIn(written) as [string];
    // The retry misses (the version moved, by this very write), and the row shows this request's
    // write: 200, the photo it set whole.
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({ hasCustomProfilePicture: true });
    expect((await readUser(user.id))?.profilePictureUploadId).toBe(id);
    expect(await readUpload(id)).toMatchObject({ state: "ready" });
    for (const key of [originalKeyFor(id), ...thumbKeysFor(id)])
      expect(await env.BUCKET.head(key), key).not.toBeNull();
  });

  it("the pending cap applies while it runs: 429 with the caller's uploads all pending, nothing stored", async () => {
    const user = await createUser();
    for (let i = 0; i < MAX_PENDING_UPLOADS_PER_USER; i++) {
      await createUpload(user, { state: "pending", thumbKey: null });
    }
    const { bucket, written } = recordingBucket();

    const response = await putImage(ME, user, images.png, "image/png", { env: { BUCKET: bucket } });

    await expectError(response, 429, "rate_limited");
    await expectNothingStored(written, user, MAX_PENDING_UPLOADS_PER_USER);
  });
});

describe("a body sent chunked, without Content-Length", () => {
  it("is held once, as the very chunks that arrived, each let go of as it is read: never joined into a copy", async () => {
    const parts = [images.png.slice(0, 100), images.png.slice(100, 500), images.png.slice(500)];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(part);
        controller.close();
      },
    });

    const { chunks, size } = await readChunksLimited(
      body,
      MAX_IMAGE_BODY_BYTES,
      () => new Error("too large"),
    );

    expect(size).toBe(images.png.byteLength);
    expect(chunks).toHaveLength(parts.length);
    for (const [i, chunk] of chunks.entries()) expect(chunk).toBe(parts[i]);
    const reader = chunksReleasedAsRead(chunks).getReader();
    for (const part of parts) {
      expect((await reader.read()).value).toBe(part);
      // What was read is no longer held here.
      expect(chunks).not.toContain(part);
    }
    expect(await reader.read()).toEqual({ done: true, value: undefined });
    expect(chunks).toEqual([]);
  });

  it("goes on to R2 as a stream of the body's length, not as a buffer held through the checks", async () => {
    const request = new Request("https://api.test/api/v1/users/me/profile-picture", {
      method: "PUT",
      headers: { "Content-Type": "image/png" },
      body: chunkedStream(images.png).stream,
    });
    expect(request.headers.get("Content-Length")).toBeNull();

    const image = await receiveImage(request);

    expect(image.size).toBe(images.png.byteLength);
    expect(image.bytes).toBeInstanceOf(ReadableStream);
    expect(new Uint8Array(await new Response(image.bytes).arrayBuffer())).toEqual(images.png);
  });
});

describe("PUT profile-picture with If-Match", () => {
  const etagOf = (response: Response) => response.headers.get("ETag") as string;

  it("with the current ETag: 200 and the profile's new ETag", async () => {
    const user = await createUser();
    const etag = etagOf(await call("/api/v1/users/me", { token: await tokenFor(user) }));

    const response = await putImage(ME, user, images.png, "image/png", { headers: { "If-Match": etag } });

    expect(response.status).toBe(200);
    expect(etagOf(response)).not.toBe(etag);
    expect((await readUser(user.id))?.profilePictureUploadId).not.toBeNull();
  });

  it("with a stale ETag: 412 precondition_failed before a byte is stored", async () => {
    const { response: first, user } = await onePutSet(ME, await createUser());
    const stale = etagOf(first);
    const { user: current } = await onePutSet(ME, user);
    const { bucket, written } = recordingBucket();

    const response = await putImage(ME, current, images.png, "image/png", {
      headers: { "If-Match": stale },
      env: { BUCKET: bucket },
    });

    await expectError(response, 412, "precondition_failed");
    await expectNothingStored(written, current, 2);
  });

  it("when the profile changes while the bytes are checked: 412 from the statement that attaches, nothing attached, the upload deleted", async () => {
    const user = await createUser();
    const etag = etagOf(await call("/api/v1/users/me", { token: await tokenFor(user) }));
    const meanwhile = await createUpload(user);
    let changed: User | undefined;
    let shown: Upload | undefined;
    // Someone sets another photo while this request's thumbnails are being stored.
    const { bucket, written } = recordingBucket(
      bucketChangedBefore(env.BUCKET, "put", async (key) => {
        if (changed || !key.endsWith("thumb-64.webp")) return;
        const patched = await call(ME, {
          method: "PATCH",
          token: await tokenFor(user),
          json: { uploadId: meanwhile.id },
        });
        expect(patched.status).toBe(200);
        changed = await readUser(user.id);
        shown = await readUpload(meanwhile.id);
      }),
    );

    const response = await putImage(ME, user, images.png, "image/png", {
      headers: { "If-Match": etag },
      env: { BUCKET: bucket },
    });

    await expectError(response, 412, "precondition_failed");
    expect(changed?.profilePictureUploadId).toBe(meanwhile.id);
    await expectUnchanged(changed as User, shown as Upload);
    await expectNothingLeftBy(written);
  });
});

describe("PUT /api/v1/shared/users/{user_id}/profile-picture with If-Match", () => {
  it("with the teammate's ETag gone stale: 412 precondition_failed before a byte is stored", async () => {
    const admin = await createUser({ role: "admin" });
    const teammate = await createUser();
    const read = await call(`/api/v1/shared/users/${teammate.id}`, { token: await tokenFor(admin) });
    const stale = read.headers.get("ETag") as string;
    expect(stale).toBeTruthy();
    // The teammate sets a photo of their own: the profile the admin read is no longer current.
    const photo = await createUpload(teammate);
    const set = await call(ME, {
      method: "PATCH",
      token: await tokenFor(teammate),
      json: { uploadId: photo.id },
    });
    expect(set.status).toBe(200);
    const current = (await readUser(teammate.id)) as User;
    const { bucket, written } = recordingBucket();

    const response = await putImage(shared(teammate.id), admin, images.png, "image/png", {
      headers: { "If-Match": stale },
      env: { BUCKET: bucket },
    });

    await expectError(response, 412, "precondition_failed");
    await expectNothingStored(written, admin);
    await expectUnchanged(current);
  });
});

describe("PUT profile-picture with a malformed If-Match", () => {
  it.for(putRoutes)("$route: 422 at header.if-match for If-Match: abc, storing nothing", async ({ path }) => {
    const user = await createUser();
    const { bucket, written } = recordingBucket();

    const response = await putImage(path(user), user, images.png, "image/png", {
      headers: { "If-Match": "abc" },
      env: { BUCKET: bucket },
    });

    await expectValidationErrorAt(response, ["header", "if-match"]);
    await expectNothingStored(written, user);
  });
});

describe("PUT profile-picture: pictureSize", () => {
  const withSize = (path: string, size: string | undefined) =>
    size === undefined ? path : `${path}?pictureSize=${encodeURIComponent(size)}`;

  it.for(
    putRoutes.flatMap((route) =>
      [undefined, "64", "128", "256", "512"].map((size) => ({
        ...route,
        size,
        shown: Number(size ?? 256) as ThumbSize,
      })),
    ),
  )(
    "$route with pictureSize $size presigns the new photo's $shown px thumbnail",
    async ({ path, size, shown }) => {
      const user = await createUser();
      const { bucket, written } = recordingBucket();

      const response = await putImage(withSize(path(user), size), user, images.png, "image/png", {
        env: { BUCKET: bucket },
      });

      expect(response.status).toBe(200);
      const [id] = uploadIdsIn(written) as [string];
      expect((await readUser(user.id))?.profilePictureUploadId).toBe(id);
      const url = new URL((await json<Profile>(response)).profilePictureUrl as string);
      expect(url.pathname.endsWith(`/${thumbKeyFor(id, shown)}`)).toBe(true);
    },
  );

  it.for(putRoutes.flatMap((route) => ["32", "1024", "abc", ""].map((size) => ({ ...route, size }))))(
    "$route answers 422 at query.pictureSize for pictureSize '$size', storing nothing",
    async ({ path, size }) => {
      const user = await createUser();
      const { bucket, written } = recordingBucket();

      const response = await putImage(withSize(path(user), size), user, images.png, "image/png", {
        env: { BUCKET: bucket },
      });

      await expectValidationErrorAt(response, ["query", "pictureSize"]);
      await expectNothingStored(written, user);
    },
  );
});

describe("GET /openapi.json", () => {
  interface Operation {
    description?: string;
    requestBody?: { required: boolean; content: Record<string, { schema: Record<string, unknown> }> };
    responses: Record<string, { description?: string }>;
    parameters?: { name: string; in: string }[];
  }

  it.for([
    { path: "/api/v1/users/me/profile-picture", statuses: ["403", "412"] },
    { path: "/api/v1/shared/users/{user_id}/profile-picture", statuses: ["403", "404", "412"] },
  ])(
    "declares PUT $path: the image as a binary body of each type, and every error it answers",
    async ({ path, statuses }) => {
      const doc = await json<{ paths: Record<string, Record<string, Operation>> }>(
        await call("/openapi.json"),
      );
      const operation = doc.paths[path]?.put;
      expect(operation?.requestBody?.required).toBe(true);
      expect(operation?.requestBody?.content).toEqual(
        Object.fromEntries(
          ["image/jpeg", "image/png", "image/webp", "image/gif"].map((type) => [
            type,
            { schema: { type: "string", format: "binary" } },
          ]),
        ),
      );
      expect(Object.keys(operation?.responses ?? {}).sort()).toEqual(
        ["200", "401", "413", "415", "422", "429", "500", "503", ...statuses].sort(),
      );
      expect(operation?.responses["422"]?.description).toMatch(/`validation_error`: .*`upload_invalid`: /);
      // Only the PUT by id acts on someone else: who may act on whom is its to declare.
      expect(operation?.responses["403"]?.description?.includes("`forbidden`")).toBe(
        statuses.includes("404"),
      );
      expect(operation?.description).toContain("at most 10485760 bytes");
      expect(operation?.description).toContain("`422 upload_invalid`");
    },
  );
});
