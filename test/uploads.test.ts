import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type Upload, type User, uploads } from "../src/db/schema";
import { originalKeyFor, THUMB_SIZES, thumbKeyFor, thumbKeysFor } from "../src/lib/object-keys";
import { amzDate } from "../src/lib/presign";
import { UPLOAD_URL_TTL_SECONDS } from "../src/pictures/retention";
import { MAX_PENDING_UPLOADS_PER_USER } from "../src/pictures/upload-rules";
import * as images from "./fixtures/images";
import { call, json } from "./helpers/api";
import { changedBefore } from "./helpers/counting-d1";
import { createUpload, createUser, db, readUpload, readUser } from "./helpers/db";
import { bucketChangedBefore } from "./helpers/hooked-r2";
import { expectError } from "./helpers/refusals";
import { signToken } from "./helpers/tokens";
import {
  completeUpload,
  countUploads,
  emulated,
  imageInfo,
  imageOfEveryType,
  putObject,
  S3_ENDPOINT,
  startUpload,
  type UploadJson,
  uploadThroughApi,
} from "./helpers/uploads";
import { mockWorkOS } from "./helpers/workos";

const MiB = 1024 * 1024;
const HOUR = 60 * 60 * 1000;

beforeEach(() => {
  mockWorkOS();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

async function caller() {
  const user = await createUser();
  return { user, token: await signToken({ sub: user.workosUserId }) };
}

/** No thumbnail of the upload is stored, in any size. */
async function expectNoThumbnails(uploadId: string) {
  for (const key of thumbKeysFor(uploadId)) expect(await env.BUCKET.head(key), key).toBeNull();
}

/** GET a presigned URL through the emulation and return the bytes with the response. */
async function fetchPresigned(url: string) {
  const response = await call(url, { env: emulated });
  return { response, bytes: new Uint8Array(await response.arrayBuffer()) };
}

describe("POST /api/v1/uploads", () => {
  it("creates a pending upload owned by the caller, with a presigned PUT URL valid for minutes", async () => {
    const { user, token } = await caller();
    const before = Date.now();
    const response = await call("/api/v1/uploads", {
      method: "POST",
      token,
      json: {
        kind: "image",
        scope: "profile_picture",
        contentType: "image/png",
        size: 947,
        filename: "me.png",
      },
      env: emulated,
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    const body = await json(response);
    expect(Object.keys(body).sort()).toEqual([
      "expiresAt",
      "upload",
      "uploadHeaders",
      "uploadMethod",
      "uploadUrl",
    ]);
    const upload = body.upload as UploadJson;
    expect(upload).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      kind: "image",
      scope: "profile_picture",
      state: "pending",
      contentType: "image/png",
      size: 947,
      filename: "me.png",
      createdAt: expect.stringMatching(/Z$/),
      failureReason: null,
      thumbUrl: null,
    });
    expect(body.uploadMethod).toBe("PUT");
    expect(body.uploadHeaders).toEqual({
      "Content-Type": "image/png",
      "Content-Length": "947",
      "If-None-Match": "*",
    });

    const url = new URL(body.uploadUrl as string);
    expect(`${url.origin}${url.pathname}`).toBe(
      `${S3_ENDPOINT}/profile-pictures/${originalKeyFor(upload.id)}`,
    );
    expect(url.searchParams.get("X-Amz-Expires")).toBe("600");
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe(
      "content-length;content-type;host;if-none-match",
    );
    const expiresAt = Date.parse(body.expiresAt as string);
    expect(expiresAt).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 600_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);

    const row = await readUpload(upload.id);
    expect(row).toMatchObject({ ownerId: user.id, state: "pending", objectKey: originalKeyFor(upload.id) });
  });

  it("accepts the attachment scope's documents, with their own kind", async () => {
    const { token } = await caller();
    const started = await startUpload(token, {
      kind: "document",
      scope: "attachment",
      contentType: "application/pdf",
      size: 20 * MiB,
    });
    expect(started.upload).toMatchObject({ kind: "document", scope: "attachment", state: "pending" });
    expect(started.uploadHeaders).toEqual({
      "Content-Type": "application/pdf",
      "Content-Length": String(20 * MiB),
      "If-None-Match": "*",
    });
  });

  it.each([
    ["an unknown scope", { scope: "avatar" }, "scope"],
    ["a kind that does not match the type", { kind: "document" }, "kind"],
    ["a type the scope does not allow", { contentType: "image/svg+xml" }, "contentType"],
    ["a PDF as a profile picture", { kind: "document", contentType: "application/pdf" }, "contentType"],
    ["a size over the scope's 10 MiB", { size: 10 * MiB + 1 }, "size"],
    ["an empty size", { size: 0 }, "size"],
    ["a fractional size", { size: 1.5 }, "size"],
    ["a size as a string", { size: "947" }, "size"],
    ["a file name with a control character", { filename: "me\u0000.png" }, "filename"],
    ["an extra key", { objectKey: "uploads/x/original" }, "objectKey"],
  ])("refuses %s with 422 and creates nothing", async (_, override, field) => {
    const { user, token } = await caller();
    const response = await call("/api/v1/uploads", {
      method: "POST",
      token,
      json: { kind: "image", scope: "profile_picture", contentType: "image/png", size: 947, ...override },
    });
    expect(response.status).toBe(422);
    const body = await json<{ code: string; detail: { loc: unknown[] }[] }>(response);
    expect(body.code).toBe("validation_error");
    expect(body.detail.map((item) => item.loc)).toContainEqual(["body", field]);
    expect(await countUploads(user.id)).toBe(0);
  });

  it.each(["constructor", "__proto__", " Constructor ", "__PROTO__"])(
    "refuses the content type %j, a name every object inherits, as a content type the scope does not allow",
    async (contentType) => {
      const { user, token } = await caller();
      const response = await call("/api/v1/uploads", {
        method: "POST",
        token,
        json: { kind: "image", scope: "profile_picture", contentType, size: 947 },
      });
      expect(response.status).toBe(422);
      expect(await json(response)).toEqual({
        code: "validation_error",
        detail: [
          {
            loc: ["body", "contentType"],
            msg: "Content type not allowed for scope profile_picture; allowed: image/jpeg, image/png, image/webp, image/gif",
            type: "value_error",
          },
        ],
      });
      expect(await countUploads(user.id)).toBe(0);
    },
  );

  it("refuses an attachment over 25 MiB, and a missing key, pointing at the field", async () => {
    const { user, token } = await caller();
    const tooBig = await call("/api/v1/uploads", {
      method: "POST",
      token,
      json: { kind: "image", scope: "attachment", contentType: "image/png", size: 25 * MiB + 1 },
    });
    expect(tooBig.status).toBe(422);
    const missing = await call("/api/v1/uploads", {
      method: "POST",
      token,
      json: { kind: "image", scope: "profile_picture", size: 947 },
    });
    expect(missing.status).toBe(422);
    expect((await json(missing)).detail).toContainEqual({
      loc: ["body", "contentType"],
      msg: "Field required",
      type: "missing",
    });
    expect(await countUploads(user.id)).toBe(0);
  });

  describe(`at most ${MAX_PENDING_UPLOADS_PER_USER} pending uploads per user`, () => {
    const start = (token: string) =>
      call("/api/v1/uploads", {
        method: "POST",
        token,
        json: { kind: "image", scope: "profile_picture", contentType: "image/png", size: 947 },
        env: emulated,
      });
    const pendingUploads = async (user: User, count: number, createdAt = new Date()) => {
      for (let i = 0; i < count; i++)
        await createUpload(user, { state: "pending", createdAt, updatedAt: createdAt });
    };

    it("case 51: refuses one more with 429 rate_limited and a Retry-After for when the oldest is gone, creating nothing", async () => {
      const { user, token } = await caller();
      const oldest = new Date(Math.floor(Date.now() / 1000) * 1000 - 3 * HOUR);
      await pendingUploads(user, 1, oldest);
      await pendingUploads(user, MAX_PENDING_UPLOADS_PER_USER - 1);

      const before = Date.now();
      const response = await start(token);

      expect(response.status).toBe(429);
      expect(await json(response)).toEqual({
        detail: `You have ${MAX_PENDING_UPLOADS_PER_USER} uploads pending, the most one user may have: complete them, or wait until they expire (24 hours after they were started).`,
        code: "rate_limited",
      });
      // Expired 24 h after it started, deleted by the hourly cleanup within the hour after.
      const retryAfter = Number(response.headers.get("Retry-After"));
      const goneBy = oldest.getTime() + 25 * HOUR;
      expect(retryAfter).toBeGreaterThanOrEqual(Math.floor((goneBy - Date.now()) / 1000));
      expect(retryAfter).toBeLessThanOrEqual(Math.ceil((goneBy - before) / 1000));
      expect(await countUploads(user.id)).toBe(MAX_PENDING_UPLOADS_PER_USER);
    });

    it("counts only pending uploads, and only the caller's", async () => {
      const { user, token } = await caller();
      await pendingUploads(user, MAX_PENDING_UPLOADS_PER_USER - 1);
      for (const state of ["ready", "failed"] as const) {
        for (let i = 0; i < MAX_PENDING_UPLOADS_PER_USER; i++) await createUpload(user, { state });
      }
      const other = await caller();
      await pendingUploads(other.user, MAX_PENDING_UPLOADS_PER_USER);

      expect((await start(token)).status).toBe(201);
      expect((await start(token)).status).toBe(429);
      expect((await start(other.token)).status).toBe(429);
    });

    it("case 51: never overshoots when creates race: the count and the insert are one statement", async () => {
      const { user, token } = await caller();
      await pendingUploads(user, MAX_PENDING_UPLOADS_PER_USER - 2);

      const responses = await Promise.all(Array.from({ length: 6 }, () => start(token)));

      expect(responses.map((response) => response.status).sort()).toEqual([201, 201, 429, 429, 429, 429]);
      expect(await countUploads(user.id)).toBe(MAX_PENDING_UPLOADS_PER_USER);
    });
  });

  describe("at most MAX_ATTACHMENT_BYTES_PER_USER bytes of attachments per user", () => {
    const LIMIT = 1000;
    const startAttachment = (token: string, size: number, limit = LIMIT) =>
      call("/api/v1/uploads", {
        method: "POST",
        token,
        json: { kind: "document", scope: "attachment", contentType: "text/plain", size },
        env: { ...emulated, MAX_ATTACHMENT_BYTES_PER_USER: String(limit) },
      });
    const attachment = (user: User, size: number, state: Upload["state"] = "ready") =>
      createUpload(user, {
        kind: "document",
        scope: "attachment",
        contentType: "text/plain",
        size,
        state,
        thumbKey: null,
      });

    it("case 51: refuses an attachment past the quota with 403 quota_exceeded, the bytes used and the limit in detail, storing nothing", async () => {
      const { user, token } = await caller();
      await attachment(user, 600, "ready");
      await attachment(user, 300, "pending");

      const refused = await startAttachment(token, 101);

      expect(refused.status).toBe(403);
      expect(await json(refused)).toEqual({
        detail:
          "Your attachments, pending and ready, take 900 bytes of the 1000 bytes one user may store; this one's " +
          "101 bytes would pass that. Nothing was stored.",
        code: "quota_exceeded",
      });
      expect(await countUploads(user.id)).toBe(2);
      // Up to the limit exactly is fine; then nothing more.
      expect((await startAttachment(token, 100)).status).toBe(201);
      await expectError(await startAttachment(token, 1), 403, "quota_exceeded");
      expect(await countUploads(user.id)).toBe(3);
      expect(await readUser(user.id)).toMatchObject({ attachmentBytes: 1000 });
    });

    it("counts the caller's ready and pending attachments only, and frees what fails or is deleted", async () => {
      const { user, token } = await caller();
      await attachment(user, 900, "failed");
      await createUpload(user, { size: 900 });
      await attachment((await caller()).user, 900);
      const pending = await attachment(user, 900, "pending");
      await expectError(await startAttachment(token, 200), 403, "quota_exceeded");

      // A pending attachment whose bytes fail stops counting, as does one the cleanup deletes.
      await db().update(uploads).set({ state: "failed" }).where(eq(uploads.id, pending.id));
      expect(await readUser(user.id)).toMatchObject({ attachmentBytes: 0 });
      const started = await startAttachment(token, 1000);
      expect(started.status).toBe(201);
      const { upload } = await json<{ upload: UploadJson }>(started);
      await db().delete(uploads).where(eq(uploads.id, upload.id));
      expect(await readUser(user.id)).toMatchObject({ attachmentBytes: 0 });
      // Profile pictures are bounded by their own rules, not this quota.
      const photo = await call("/api/v1/uploads", {
        method: "POST",
        token,
        json: { kind: "image", scope: "profile_picture", contentType: "image/png", size: 5000 },
        env: { ...emulated, MAX_ATTACHMENT_BYTES_PER_USER: "1" },
      });
      expect(photo.status).toBe(201);
    });

    it("case 51: never overshoots when creates race: the quota and the insert are one statement", async () => {
      const { user, token } = await caller();
      await attachment(user, 100);

      const responses = await Promise.all(Array.from({ length: 6 }, () => startAttachment(token, 300)));

      expect(responses.map((response) => response.status).sort()).toEqual([201, 201, 201, 403, 403, 403]);
      const stored = await db()
        .select({ size: uploads.size })
        .from(uploads)
        .where(eq(uploads.ownerId, user.id));
      expect(stored.reduce((sum, row) => sum + row.size, 0)).toBe(1000);
      expect(await readUser(user.id)).toMatchObject({ attachmentBytes: 1000 });
    });

    it("is 1 GiB unless configured", async () => {
      const { user, token } = await caller();
      await attachment(user, 1024 * MiB - 10);
      const over = await call("/api/v1/uploads", {
        method: "POST",
        token,
        json: { kind: "document", scope: "attachment", contentType: "text/plain", size: 11 },
        env: { ...emulated, MAX_ATTACHMENT_BYTES_PER_USER: "" },
      });
      await expectError(over, 403, "quota_exceeded");
      expect((await startAttachment(token, 10, 1024 * MiB)).status).toBe(201);
    });
  });

  it("requires a token and a JSON body", async () => {
    const { user, token } = await caller();
    const anonymous = await call("/api/v1/uploads", {
      method: "POST",
      json: { kind: "image", scope: "profile_picture", contentType: "image/png", size: 947 },
    });
    expect(anonymous.status).toBe(401);
    const form = await call("/api/v1/uploads", {
      method: "POST",
      token,
      body: "kind=image",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).toBe(415);
    expect(await countUploads(user.id)).toBe(0);
  });
});

describe("PUT to the presigned upload URL (write-once, exact size)", () => {
  /** S3's XML error, as R2 answers it. */
  async function expectS3Error(response: Response, status: number, code: string) {
    expect(response.status).toBe(status);
    expect(response.headers.get("Content-Type")).toBe("application/xml");
    expect(await response.text()).toContain(`<Code>${code}</Code>`);
  }

  const storedBytes = async (key: string) => {
    const object = await env.BUCKET.get(key);
    return object ? new Uint8Array(await object.arrayBuffer()) : null;
  };

  it("refuses a second PUT once the upload is ready (412), and the checked bytes stay", async () => {
    const { token } = await caller();
    const { started, completed } = await uploadThroughApi(token, images.png, { contentType: "image/png" });
    const ready = await json<UploadJson>(completed);
    expect(ready.state).toBe("ready");
    const thumbBefore = await env.BUCKET.head(thumbKeyFor(ready.id));
    const rowBefore = await readUpload(ready.id);

    // Same length and type, so only If-None-Match stands between these bytes and the checked ones.
    const swap = new Uint8Array(images.png.byteLength).fill(7);
    await expectS3Error(
      await putObject(started.uploadUrl, swap, started.uploadHeaders),
      412,
      "PreconditionFailed",
    );

    expect(await storedBytes(originalKeyFor(ready.id))).toEqual(images.png);
    expect((await env.BUCKET.head(thumbKeyFor(ready.id)))?.etag).toBe(thumbBefore?.etag);
    expect(await readUpload(ready.id)).toEqual(rowBefore);
  });

  it("refuses a second PUT before complete too: the first bytes are the ones checked", async () => {
    const { token } = await caller();
    const started = await startUpload(token, { contentType: "image/png", size: images.png.byteLength });
    expect((await putObject(started.uploadUrl, images.png, started.uploadHeaders)).status).toBe(200);
    const swap = new Uint8Array(images.png.byteLength).fill(7);
    await expectS3Error(
      await putObject(started.uploadUrl, swap, started.uploadHeaders),
      412,
      "PreconditionFailed",
    );
    const upload = await json<UploadJson>(await completeUpload(token, started.upload.id));
    expect(upload.state).toBe("ready");
    expect(await storedBytes(originalKeyFor(upload.id))).toEqual(images.png);
  });

  it.each([
    ["longer", images.png.byteLength + 1],
    ["shorter", images.png.byteLength - 1],
  ])(
    "refuses a %s body than declared (403, the signed Content-Length) before complete",
    async (_, length) => {
      const { token } = await caller();
      const started = await startUpload(token, { contentType: "image/png", size: images.png.byteLength });
      const body = new Uint8Array(length);
      body.set(images.png.slice(0, length));

      await expectS3Error(
        await putObject(started.uploadUrl, body, started.uploadHeaders),
        403,
        "SignatureDoesNotMatch",
      );

      expect(await env.BUCKET.head(originalKeyFor(started.upload.id))).toBeNull();
      const response = await completeUpload(token, started.upload.id);
      expect(response.status).toBe(409);
      expect((await json(response)).code).toBe("upload_not_ready");
      expect((await readUpload(started.upload.id))?.state).toBe("pending");
    },
  );

  it("stores nothing when a body carries more bytes than the signed Content-Length it claims", async () => {
    // Impossible on the wire (HTTP framing ends the body there), possible for a request built in process.
    const { token } = await caller();
    const started = await startUpload(token, { contentType: "image/png", size: images.png.byteLength });
    const longer = new Uint8Array(images.png.byteLength + 100);
    longer.set(images.png);
    const response = await call(started.uploadUrl, {
      method: "PUT",
      body: longer,
      headers: started.uploadHeaders,
      env: emulated,
    });
    await expectS3Error(response, 400, "IncompleteBody");
    expect(await env.BUCKET.head(originalKeyFor(started.upload.id))).toBeNull();
  });

  it.for<{ name: string; edit: (url: URL) => void }>([
    { name: "its key", edit: (url) => (url.pathname = url.pathname.replace("/original", "/thumb-256.webp")) },
    { name: "its expiry", edit: (url) => url.searchParams.set("X-Amz-Expires", "604800") },
    {
      name: "its signing time",
      edit: (url) => url.searchParams.set("X-Amz-Date", amzDate(Math.floor(Date.now() / 1000) - 60)),
    },
  ])("case 37: refuses the upload URL with $name edited (403), storing nothing", async ({ edit }) => {
    const { token } = await caller();
    const started = await startUpload(token, { contentType: "image/png", size: images.png.byteLength });
    const url = new URL(started.uploadUrl);
    edit(url);
    const response = await putObject(url.toString(), images.png, started.uploadHeaders);
    // SignatureDoesNotMatch, or (for a signing time edited across midnight UTC) a malformed credential.
    expect(response.status).toBe(403);
    expect(response.headers.get("Content-Type")).toBe("application/xml");
    expect(await env.BUCKET.head(originalKeyFor(started.upload.id))).toBeNull();
    await expectNoThumbnails(started.upload.id);
    expect((await readUpload(started.upload.id))?.state).toBe("pending");
  });

  it("case 37: refuses the upload URL once it has expired (403), storing nothing", async () => {
    const { token } = await caller();
    const started = await startUpload(token, { contentType: "image/png", size: images.png.byteLength });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + (UPLOAD_URL_TTL_SECONDS + 120) * 1000);
    await expectS3Error(
      await putObject(started.uploadUrl, images.png, started.uploadHeaders),
      403,
      "AccessDenied",
    );
    expect(await env.BUCKET.head(originalKeyFor(started.upload.id))).toBeNull();
    expect((await readUpload(started.upload.id))?.state).toBe("pending");
  });

  it.each<[string, (headers: Record<string, string>) => Record<string, string>, string]>([
    ["without If-None-Match", ({ "If-None-Match": _, ...rest }) => rest, "AuthorizationQueryParametersError"],
    [
      "with another Content-Type",
      (headers) => ({ ...headers, "Content-Type": "image/gif" }),
      "SignatureDoesNotMatch",
    ],
  ])("refuses a PUT %s (403): every listed header is signed", async (_, change, code) => {
    const { token } = await caller();
    const started = await startUpload(token, { contentType: "image/png", size: images.png.byteLength });
    await expectS3Error(
      await putObject(started.uploadUrl, images.png, change(started.uploadHeaders)),
      403,
      code,
    );
    expect(await env.BUCKET.head(originalKeyFor(started.upload.id))).toBeNull();
  });
});

describe("POST /api/v1/uploads/{upload_id}/complete", () => {
  it.for(imageOfEveryType)(
    "turns a real $name into a ready upload with square WebP thumbnails of 64, 128, 256 and 512 px, none larger than its shorter side ($shorterSide px)",
    async ({ bytes, contentType, shorterSide }) => {
      const { token } = await caller();
      const { started, completed } = await uploadThroughApi(token, bytes, { contentType });
      expect(completed.status).toBe(200);
      const upload = await json<UploadJson>(completed);
      expect(upload).toMatchObject({ id: started.upload.id, state: "ready", failureReason: null });

      for (const size of THUMB_SIZES) {
        const stored = await env.BUCKET.get(thumbKeyFor(upload.id, size));
        expect(stored?.httpMetadata?.contentType, `${size} px`).toBe("image/webp");
        // Stored with it, since R2 serves only what the object carries: the browser keeps the
        // thumbnail as long as its URL is handed out (THUMB_URL_TTL_SECONDS in the test config).
        expect(stored?.httpMetadata?.cacheControl, `${size} px`).toBe("private, max-age=3600, immutable");
        const side = Math.min(size, shorterSide);
        expect(await imageInfo(await (stored as R2ObjectBody).arrayBuffer()), `${size} px`).toMatchObject({
          format: "image/webp",
          width: side,
          height: side,
        });
      }
      // The upload's own thumbUrl stays the 256 px one.
      expect(upload.thumbUrl).toEqual(expect.stringContaining(`/${thumbKeyFor(upload.id, 256)}?`));
      const { response, bytes: thumb } = await fetchPresigned(upload.thumbUrl as string);
      expect(response.status).toBe(200);
      expect(response.headers.get("Content-Type")).toBe("image/webp");
      expect(response.headers.get("Cache-Control")).toBe("private, max-age=3600, immutable");
      const side = Math.min(256, shorterSide);
      expect(await imageInfo(thumb)).toMatchObject({ format: "image/webp", width: side, height: side });
      expect(await readUpload(upload.id)).toMatchObject({
        state: "ready",
        thumbKey: thumbKeyFor(upload.id),
        thumbSizes: [64, 128, 256, 512],
      });
    },
  );

  it("writes every size before the upload turns ready", async () => {
    const { token } = await caller();
    const started = await startUpload(token, { contentType: "image/png", size: images.png.byteLength });
    expect((await putObject(started.uploadUrl, images.png, started.uploadHeaders)).status).toBe(200);
    const stateAtWrite = new Map<string, string | undefined>();
    const bucket = bucketChangedBefore(env.BUCKET, "put", async (key) => {
      stateAtWrite.set(key, (await readUpload(started.upload.id))?.state);
    });

    const response = await call(`/api/v1/uploads/${started.upload.id}/complete`, {
      method: "POST",
      token,
      env: { ...emulated, BUCKET: bucket },
    });

    expect((await json<UploadJson>(response)).state).toBe("ready");
    expect(Object.fromEntries(stateAtWrite)).toEqual(
      Object.fromEntries(thumbKeysFor(started.upload.id).map((key) => [key, "pending"])),
    );
  });

  it("marks an attachment PDF ready without a thumbnail", async () => {
    const { token } = await caller();
    const pdf = new TextEncoder().encode(
      "%PDF-1.7\n%\u00e2\u00e3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n",
    );
    const { completed } = await uploadThroughApi(token, pdf, {
      kind: "document",
      scope: "attachment",
      contentType: "application/pdf",
    });
    const upload = await json<UploadJson>(completed);
    expect(upload).toMatchObject({ state: "ready", thumbUrl: null, failureReason: null });
    await expectNoThumbnails(upload.id);
  });

  it.each([
    [
      "bytes that are not an image",
      new TextEncoder().encode("just some text, not a picture"),
      "image/png",
      /not image\/png/,
    ],
    ["PNG bytes declared as JPEG", images.png, "image/jpeg", /not image\/jpeg \(they look like image\/png\)/],
    ["a PNG too wide to decode safely", images.tooWide, "image/png", /12001x1 px/],
    ["a truncated PNG", images.png.slice(0, 300), "image/png", /could not be decoded/],
  ])(
    "marks %s failed with a reason, writes no thumbnail and drops the bytes",
    async (_, bytes, contentType, reason) => {
      const { user, token } = await caller();
      const { started, completed } = await uploadThroughApi(token, bytes, { contentType });
      expect(completed.status).toBe(200);
      const upload = await json<UploadJson>(completed);
      expect(upload).toMatchObject({ state: "failed", thumbUrl: null });
      expect(upload.failureReason).toMatch(reason);
      expect(await readUpload(started.upload.id)).toMatchObject({
        state: "failed",
        thumbKey: null,
        ownerId: user.id,
      });
      await expectNoThumbnails(upload.id);
      expect(await env.BUCKET.head(originalKeyFor(upload.id))).toBeNull();

      const read = await call(`/api/v1/uploads/${upload.id}`, { token });
      expect((await json<UploadJson>(read)).failureReason).toBe(upload.failureReason);
    },
  );

  it("marks an object whose size differs from the declared size failed, however it got into R2", async () => {
    const { token } = await caller();
    const started = await startUpload(token, { contentType: "image/png", size: images.png.byteLength - 1 });
    // The upload URL cannot store another size (see the PUT tests); a write that bypasses it can.
    await env.BUCKET.put(originalKeyFor(started.upload.id), images.png);
    const upload = await json<UploadJson>(await completeUpload(token, started.upload.id));
    expect(upload.state).toBe("failed");
    expect(upload.failureReason).toBe(
      `The stored object is ${images.png.byteLength} bytes, but ${images.png.byteLength - 1} were declared.`,
    );
    await expectNoThumbnails(upload.id);
  });

  it("answers 409 upload_not_ready when no bytes were uploaded, and writes nothing", async () => {
    const { token } = await caller();
    const started = await startUpload(token, { contentType: "image/png", size: images.png.byteLength });
    const response = await completeUpload(token, started.upload.id);
    expect(response.status).toBe(409);
    expect(await json(response)).toEqual({
      detail: "No bytes have been uploaded yet; PUT them to the upload URL first.",
      code: "upload_not_ready",
    });
    const row = await readUpload(started.upload.id);
    expect(row).toMatchObject({ state: "pending", failureReason: null, thumbKey: null });
    expect(row?.updatedAt.getTime()).toBe(Date.parse(started.upload.createdAt));
    await expectNoThumbnails(started.upload.id);
  });

  it("answers 404 for another user's upload, and leaves it untouched", async () => {
    const owner = await caller();
    const other = await caller();
    const started = await startUpload(owner.token, { contentType: "image/png", size: images.png.byteLength });
    await putObject(started.uploadUrl, images.png, started.uploadHeaders);

    const response = await completeUpload(other.token, started.upload.id);
    expect(response.status).toBe(404);
    expect(await json(response)).toEqual({ detail: "Upload not found.", code: "upload_not_found" });
    expect(await readUpload(started.upload.id)).toMatchObject({ state: "pending", ownerId: owner.user.id });
    await expectNoThumbnails(started.upload.id);
    // The same answer as for an id that does not exist.
    const missing = await completeUpload(other.token, crypto.randomUUID());
    expect(missing.status).toBe(404);
    expect(await json(missing)).toEqual({ detail: "Upload not found.", code: "upload_not_found" });
  });

  it("answers 422 for an upload id that is not a UUID", async () => {
    const { token } = await caller();
    const response = await completeUpload(token, "not-a-uuid");
    expect(response.status).toBe(422);
    expect((await json(response)).detail).toContainEqual({
      loc: ["path", "upload_id"],
      msg: "Input should be a valid UUID",
      type: "uuid_parsing",
    });
  });

  it("is harmless when repeated: a ready upload stays as it is, thumbnail untouched", async () => {
    const { token } = await caller();
    const { started, completed } = await uploadThroughApi(token, images.png, { contentType: "image/png" });
    const first = await json<UploadJson>(completed);
    const thumbBefore = await env.BUCKET.head(thumbKeyFor(started.upload.id));
    const rowBefore = await readUpload(started.upload.id);

    const again = await completeUpload(token, started.upload.id);
    expect(again.status).toBe(200);
    expect(await json<UploadJson>(again)).toEqual(first);
    expect((await env.BUCKET.head(thumbKeyFor(started.upload.id)))?.etag).toBe(thumbBefore?.etag);
    expect((await env.BUCKET.head(thumbKeyFor(started.upload.id)))?.uploaded).toEqual(thumbBefore?.uploaded);
    expect(await readUpload(started.upload.id)).toEqual(rowBefore);
  });

  it("never revives a failed upload, even when good bytes arrive later", async () => {
    const { token } = await caller();
    const started = await startUpload(token, { contentType: "image/png", size: images.png.byteLength });
    await putObject(started.uploadUrl, images.jpeg.slice(0, images.png.byteLength), started.uploadHeaders);
    const failed = await json<UploadJson>(await completeUpload(token, started.upload.id));
    expect(failed.state).toBe("failed");

    // The PUT URL is still valid: the client sends the right bytes and completes again.
    expect((await putObject(started.uploadUrl, images.png, started.uploadHeaders)).status).toBe(200);
    const again = await completeUpload(token, started.upload.id);
    expect(again.status).toBe(200);
    expect(await json<UploadJson>(again)).toEqual(failed);
    expect(await readUpload(started.upload.id)).toMatchObject({ state: "failed", thumbKey: null });
    await expectNoThumbnails(started.upload.id);
  });

  /** A pending upload whose bytes (the JPEG fixture) are in R2, ready to complete. */
  async function uploaded(token: string) {
    const started = await startUpload(token, { contentType: "image/jpeg", size: images.jpeg.byteLength });
    expect((await putObject(started.uploadUrl, images.jpeg, started.uploadHeaders)).status).toBe(200);
    return started.upload.id;
  }

  /** `complete` with a D1 whose settling UPDATE first runs `change` (what a racing party did). */
  const completeWhenSettling = (token: string, id: string, change: () => Promise<unknown>) =>
    call(`/api/v1/uploads/${id}/complete`, {
      method: "POST",
      token,
      env: { ...emulated, DB: changedBefore(env.DB, /^update "uploads"/i, change) },
    });

  /** What the stored thumbnails of `id` are, size by size (the JPEG fixture: 320 px on its shorter side). */
  const thumbnailsOf = async (id: string) =>
    Promise.all(
      THUMB_SIZES.map(async (size) => {
        const thumb = await env.BUCKET.get(thumbKeyFor(id, size));
        return thumb ? imageInfo(await thumb.arrayBuffer()) : null;
      }),
    );
  const allSizesOfTheJpeg = [64, 128, 256, 320].map((side) =>
    expect.objectContaining({ format: "image/webp", width: side, height: side }),
  );

  it("settles once when two completes race: the later one changes nothing and answers the same", async () => {
    const { token } = await caller();
    const id = await uploaded(token);
    const first = completeUpload(token, id);
    let settledByFirst: Upload | undefined;
    // The second checks the same bytes too, but writes its thumbnail (and so settles) only once the
    // first has settled, and a moment later, so a second state change would show in updated_at.
    const bucket = bucketChangedBefore(env.BUCKET, "put", async (key) => {
      if (key !== thumbKeyFor(id)) return;
      await first;
      settledByFirst = await readUpload(id);
      await new Promise((resolve) => setTimeout(resolve, 5));
    });
    const second = call(`/api/v1/uploads/${id}/complete`, {
      method: "POST",
      token,
      env: { ...emulated, BUCKET: bucket },
    });

    const responses = await Promise.all([first, second]);

    expect(responses.map((response) => response.status)).toEqual([200, 200]);
    const [a, b] = await Promise.all(responses.map((response) => json<UploadJson>(response)));
    expect(a?.state).toBe("ready");
    expect(b).toEqual(a);
    expect(settledByFirst).toMatchObject({ state: "ready", thumbKey: thumbKeyFor(id) });
    expect(await readUpload(id)).toEqual(settledByFirst);
    expect(await thumbnailsOf(id)).toEqual(allSizesOfTheJpeg);
  });

  it("answers 409 and writes nothing when the object is replaced mid-check, then judges the new bytes", async () => {
    const { token } = await caller();
    const id = await uploaded(token);
    const garbage = new Uint8Array(images.jpeg.byteLength).fill(7);
    let swapped = false;
    // Upload URLs write once, so only a write that bypasses them could do this; it lands between
    // the check's `head` and its first read.
    const bucket = bucketChangedBefore(env.BUCKET, "get", async (key) => {
      if (swapped || key !== originalKeyFor(id)) return;
      swapped = true;
      await env.BUCKET.put(key, garbage);
    });

    const response = await call(`/api/v1/uploads/${id}/complete`, {
      method: "POST",
      token,
      env: { ...emulated, BUCKET: bucket },
    });

    expect(response.status).toBe(409);
    expect(await json(response)).toEqual({
      detail: "The object changed while it was being checked; complete the upload again.",
      code: "upload_not_ready",
    });
    expect(await readUpload(id)).toMatchObject({ state: "pending", thumbKey: null });
    await expectNoThumbnails(id);

    const again = await json<UploadJson>(await completeUpload(token, id));
    expect(again).toMatchObject({ state: "failed", failureReason: "The bytes are not image/jpeg." });
    expect(await env.BUCKET.head(originalKeyFor(id))).toBeNull();
  });

  it("drops its thumbnails, every size, when the cron deleted the upload while it was being checked (404)", async () => {
    const { user, token } = await caller();
    const id = await uploaded(token);
    // What the hourly cleanup does to a pending upload: the row, then its objects. It happens
    // after the bytes were checked, just before the thumbnail is written.
    const bucket = bucketChangedBefore(env.BUCKET, "put", async (key) => {
      if (key !== thumbKeyFor(id)) return;
      await db().delete(uploads).where(eq(uploads.id, id));
      await env.BUCKET.delete([originalKeyFor(id), ...thumbKeysFor(id)]);
    });

    const response = await call(`/api/v1/uploads/${id}/complete`, {
      method: "POST",
      token,
      env: { ...emulated, BUCKET: bucket },
    });

    expect(response.status).toBe(404);
    expect(await json(response)).toEqual({ detail: "Upload not found.", code: "upload_not_found" });
    await expectNoThumbnails(id);
    expect(await env.BUCKET.head(originalKeyFor(id))).toBeNull();
    expect(await countUploads(user.id)).toBe(0);
  });

  it("drops its thumbnails, every size, when another complete settled the upload failed first", async () => {
    const { token } = await caller();
    const id = await uploaded(token);
    // The other complete got an error about the bytes from the Images binding and won the race.
    const response = await completeWhenSettling(token, id, async () => {
      await db()
        .update(uploads)
        .set({ state: "failed", failureReason: "The image could not be decoded.", updatedAt: new Date() })
        .where(eq(uploads.id, id));
      await env.BUCKET.delete(originalKeyFor(id));
    });

    expect(response.status).toBe(200);
    expect(await json<UploadJson>(response)).toMatchObject({
      state: "failed",
      failureReason: "The image could not be decoded.",
      thumbUrl: null,
    });
    expect(await readUpload(id)).toMatchObject({ state: "failed", thumbKey: null });
    await expectNoThumbnails(id);
  });

  it("keeps the thumbnails when another complete made the upload ready first: both wrote the same keys", async () => {
    const { token } = await caller();
    const id = await uploaded(token);
    const response = await completeWhenSettling(token, id, () =>
      db()
        .update(uploads)
        .set({ state: "ready", thumbKey: thumbKeyFor(id), updatedAt: new Date() })
        .where(eq(uploads.id, id)),
    );

    expect(response.status).toBe(200);
    expect((await json<UploadJson>(response)).state).toBe("ready");
    expect(await thumbnailsOf(id)).toEqual(allSizesOfTheJpeg);
  });
});

describe("GET /api/v1/uploads/{upload_id}", () => {
  it("answers the caller's pending upload without a thumbnail URL", async () => {
    const { token } = await caller();
    const started = await startUpload(token, { contentType: "image/gif", size: 10, filename: null });
    const response = await call(`/api/v1/uploads/${started.upload.id}`, { token });
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(await json(response)).toEqual(started.upload);
  });

  it("answers a ready image with a presigned thumbnail URL on the configured endpoint", async () => {
    const { token } = await caller();
    const { started } = await uploadThroughApi(token, images.webp, { contentType: "image/webp" });
    const upload = await json<UploadJson>(await call(`/api/v1/uploads/${started.upload.id}`, { token }));
    expect(upload.state).toBe("ready");
    const url = new URL(upload.thumbUrl as string);
    expect(`${url.origin}${url.pathname}`).toBe(
      `https://testaccount.r2.cloudflarestorage.com/profile-pictures/${thumbKeyFor(upload.id)}`,
    );
    expect(url.searchParams.get("X-Amz-Expires")).toBe("3600");
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("host");
  });

  it.for<{ name: string; id: () => Promise<string> }>([
    { name: "another user's upload", id: async () => (await createUpload(await createUser())).id },
    { name: "an unknown id", id: async () => crypto.randomUUID() },
    { name: "case 26: the nil UUID", id: async () => "00000000-0000-0000-0000-000000000000" },
  ])("answers the same 404 for $name", async ({ id }) => {
    const { token } = await caller();
    const response = await call(`/api/v1/uploads/${await id()}`, { token });
    expect(response.status).toBe(404);
    expect(await json(response)).toEqual({ detail: "Upload not found.", code: "upload_not_found" });
  });

  it("case 26: accepts an upper-case upload id, and refuses a braced one with 422", async () => {
    const { user, token } = await caller();
    const upload = await createUpload(user);
    const upper = await call(`/api/v1/uploads/${upload.id.toUpperCase()}`, { token });
    expect(upper.status).toBe(200);
    expect((await json(upper)).id).toBe(upload.id);
    const braced = await call(`/api/v1/uploads/%7B${upload.id}%7D`, { token });
    expect((await expectError(braced, 422, "validation_error")).detail).toEqual([
      expect.objectContaining({ loc: ["path", "upload_id"] }),
    ]);
  });
});

describe("PATCH /api/v1/users/me/profile-picture with an upload made through the API", () => {
  it("sets the photo, whose profilePictureUrl serves the 256x256 WebP thumbnail", async () => {
    const { user, token } = await caller();
    const { started } = await uploadThroughApi(token, images.jpeg, { contentType: "image/jpeg" });

    const response = await call("/api/v1/users/me/profile-picture", {
      method: "PATCH",
      token,
      json: { uploadId: started.upload.id },
      env: emulated,
    });
    expect(response.status).toBe(200);
    const profile = await json<{ profilePictureUrl: string; hasCustomProfilePicture: boolean }>(response);
    expect(profile.hasCustomProfilePicture).toBe(true);
    expect(profile.profilePictureUrl).toContain(
      `${S3_ENDPOINT}/profile-pictures/${thumbKeyFor(started.upload.id)}?`,
    );

    const { response: photo, bytes } = await fetchPresigned(profile.profilePictureUrl);
    expect(photo.status).toBe(200);
    expect(photo.headers.get("Content-Type")).toBe("image/webp");
    expect(await imageInfo(bytes)).toMatchObject({ format: "image/webp", width: 256, height: 256 });
    const me = await json<{ profilePictureUrl: string }>(
      await call("/api/v1/users/me", { token, env: emulated }),
    );
    expect(me.profilePictureUrl).toBe(profile.profilePictureUrl);
    expect((await readUpload(started.upload.id))?.ownerId).toBe(user.id);
  });

  it.for<{ name: string; upload: (token: string) => Promise<string> }>([
    {
      name: "still pending",
      upload: async (token) =>
        (await startUpload(token, { contentType: "image/png", size: images.png.byteLength })).upload.id,
    },
    {
      name: "failed",
      upload: async (token) =>
        (await uploadThroughApi(token, images.png, { contentType: "image/jpeg" })).started.upload.id,
    },
  ])("refuses an upload that $name with 409 upload_not_ready", async ({ upload }) => {
    const { user, token } = await caller();
    const uploadId = await upload(token);
    const response = await call("/api/v1/users/me/profile-picture", {
      method: "PATCH",
      token,
      json: { uploadId },
    });
    expect(response.status).toBe(409);
    expect((await json(response)).code).toBe("upload_not_ready");
    expect((await readUser(user.id))?.profilePictureUploadId).toBeNull();
  });

  it("refuses a ready attachment image with 422 upload_wrong_scope", async () => {
    const { token } = await caller();
    const { completed } = await uploadThroughApi(token, images.png, {
      scope: "attachment",
      contentType: "image/png",
    });
    const attachment = await json<UploadJson>(completed);
    expect(attachment.state).toBe("ready");
    const response = await call("/api/v1/users/me/profile-picture", {
      method: "PATCH",
      token,
      json: { uploadId: attachment.id },
    });
    expect(response.status).toBe(422);
    expect((await json(response)).code).toBe("upload_wrong_scope");
  });
});

describe("GET /openapi.json", () => {
  it("documents the upload routes with their scope rules, and not the S3 emulation", async () => {
    const doc = await json<{
      paths: Record<string, Record<string, { description?: string; responses: object }>>;
      components: {
        schemas: Record<string, { properties: Record<string, { description?: string; example?: unknown }> }>;
      };
    }>(await call("/openapi.json"));
    expect(Object.keys(doc.paths["/api/v1/uploads/{upload_id}/complete"]?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(["200", "401", "404", "409", "422"]),
    );
    expect(doc.paths["/api/v1/uploads/{upload_id}"]?.get).toBeDefined();
    const description = doc.paths["/api/v1/uploads"]?.post?.description ?? "";
    expect(description).toContain("`profile_picture`: `image/jpeg` (kind `image`)");
    expect(description).toContain("at most 10485760 bytes (10 MiB)");
    expect(description).toContain("`application/pdf` (kind `document`)");
    expect(Object.keys(doc.paths).some((path) => path.startsWith("/__s3"))).toBe(false);
    // The pending cap, its status and code, in the route's own words.
    expect(description).toContain(
      `at most ${MAX_PENDING_UPLOADS_PER_USER} uploads \`pending\` at a time: one more is \`429 rate_limited\``,
    );
    expect(doc.paths["/api/v1/uploads"]?.post?.responses).toHaveProperty("429");
    // The attachment quota too.
    expect(description).toContain("`403 quota_exceeded`");
    expect(doc.paths["/api/v1/uploads"]?.post?.responses).toHaveProperty(
      "403.description",
      expect.stringContaining("`quota_exceeded`"),
    );
    // What a browser page must know about uploadHeaders.
    const uploadHeaders = doc.components.schemas.CreateUploadResponse?.properties.uploadHeaders;
    expect(uploadHeaders?.description).toContain("a browser refuses a script-set one");
    expect(uploadHeaders?.example).toEqual({
      "Content-Type": "image/png",
      "Content-Length": "48213",
      "If-None-Match": "*",
    });
  });
});
