import { env } from "cloudflare:workers";
import { AwsClient } from "aws4fetch";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type User, users } from "../src/db/schema";
import { MAX_JSON_BODY_BYTES } from "../src/lib/json-body";
import { amzDate } from "../src/lib/presign";
import * as images from "./fixtures/images";
import { type CallOptions, call } from "./helpers/api";
import { changedBefore, countingD1 } from "./helpers/counting-d1";
import { createUpload, createUser, db, readMembership, readUpload, readUser } from "./helpers/db";
import { bucketChangedBefore } from "./helpers/hooked-r2";
import { type ErrorBody, expectError, expectUnchanged, expectValidationErrorAt } from "./helpers/refusals";
import { signToken, tokenFor } from "./helpers/tokens";
import { countUploads } from "./helpers/uploads";
import { mockWorkOS } from "./helpers/workos";

beforeEach(() => {
  mockWorkOS();
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const ME = "/api/v1/users/me/profile-picture";
const shared = (userId: string) => `/api/v1/shared/users/${userId}/profile-picture`;
const PROFILE_KEYS = [
  "avatarSource",
  "avatarUrl",
  "createdAt",
  "email",
  "emailVerified",
  "firstName",
  "hasCustomProfilePicture",
  "id",
  "lastLogin",
  "lastName",
  "profilePictureUrl",
  "role",
  "state",
].sort();
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const LOWER_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Profile {
  id: string;
  email: string;
  emailVerified: boolean;
  firstName: string;
  lastName: string;
  profilePictureUrl: string | null;
  role: string;
  state: string;
  lastLogin: string | null;
  createdAt: string;
  hasCustomProfilePicture: boolean;
}

async function patch(path: string, caller: User, json: unknown, options: CallOptions = {}) {
  return call(path, { method: "PATCH", token: await tokenFor(caller), json, ...options });
}

/** The PATCH with a raw body and content type, for the body-parsing cases. */
async function patchRaw(path: string, caller: User, body: BodyInit | null, contentType?: string) {
  return call(path, {
    method: "PATCH",
    token: await tokenFor(caller),
    body,
    headers: contentType === undefined ? {} : { "Content-Type": contentType },
  });
}

function thumbUrlOf(uploadId: string) {
  return `https://testaccount.r2.cloudflarestorage.com/profile-pictures/uploads/${uploadId}/thumb-256.webp`;
}

/** Both PATCH paths, acting on the caller themself. */
const selfPaths: [string, (user: User) => string][] = [
  ["PATCH /api/v1/users/me/profile-picture", () => ME],
  ["PATCH /api/v1/shared/users/{user_id}/profile-picture (self)", (user) => shared(user.id)],
];

describe.for(selfPaths)("%s", ([, pathFor]) => {
  it("sets the photo: 200 with a presigned thumbnail URL, and stores it", async () => {
    const user = await createUser();
    const upload = await createUpload(user);
    const response = await patch(pathFor(user), user, { uploadId: upload.id });
    expect(response.status).toBe(200);
    const profile = (await response.json()) as Profile;
    expect(profile.hasCustomProfilePicture).toBe(true);
    expect(profile.profilePictureUrl?.startsWith(`${thumbUrlOf(upload.id)}?`)).toBe(true);
    const row = await readUser(user.id);
    expect(row?.profilePictureUploadId).toBe(upload.id);
    expect(row?.updatedAt.getTime()).toBeGreaterThan(user.updatedAt.getTime());
    // The upload itself is as it was, but for the storage cleanup's mark: someone shows it now.
    expect(await readUpload(upload.id)).toEqual({ ...upload, unreferencedSince: null });
  });

  it("replaces a photo with another", async () => {
    const user = await createUser();
    const first = await createUpload(user);
    const second = await createUpload(user);
    expect((await patch(pathFor(user), user, { uploadId: first.id })).status).toBe(200);
    const response = await patch(pathFor(user), user, { uploadId: second.id });
    expect(response.status).toBe(200);
    const profile = (await response.json()) as Profile;
    expect(profile.profilePictureUrl?.startsWith(`${thumbUrlOf(second.id)}?`)).toBe(true);
    expect((await readUser(user.id))?.profilePictureUploadId).toBe(second.id);
  });

  it("removes the photo with null, reverting to the WorkOS URL", async () => {
    const user = await createUser();
    const upload = await createUpload(user);
    await patch(pathFor(user), user, { uploadId: upload.id });
    const response = await patch(pathFor(user), user, { uploadId: null });
    expect(response.status).toBe(200);
    const profile = (await response.json()) as Profile;
    expect(profile.hasCustomProfilePicture).toBe(false);
    expect(profile.profilePictureUrl).toBe(user.workosProfilePictureUrl);
    expect((await readUser(user.id))?.profilePictureUploadId).toBeNull();
  });

  it("removes the photo of a user without a WorkOS picture: the URL is null", async () => {
    const user = await createUser({ workosProfilePictureUrl: null });
    const upload = await createUpload(user);
    await patch(pathFor(user), user, { uploadId: upload.id });
    const profile = (await (await patch(pathFor(user), user, { uploadId: null })).json()) as Profile;
    expect(profile).toMatchObject({ profilePictureUrl: null, hasCustomProfilePicture: false });
  });

  it("setting the photo already set succeeds and changes nothing", async () => {
    const user = await createUser();
    const upload = await createUpload(user);
    const first = await patch(pathFor(user), user, { uploadId: upload.id });
    const afterFirst = (await readUser(user.id)) as User;
    const second = await patch(pathFor(user), user, { uploadId: upload.id });
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual(await first.json());
    await expectUnchanged(afterFirst);
  });

  it('case 33: removing when none is set succeeds and changes nothing, twice ({"uploadId": null} twice)', async () => {
    const user = await createUser();
    const bodies = [];
    for (let i = 0; i < 2; i++) {
      const response = await patch(pathFor(user), user, { uploadId: null });
      expect(response.status).toBe(200);
      const body = await response.json();
      expect(body).toMatchObject({ hasCustomProfilePicture: false });
      bodies.push(body);
      await expectUnchanged(user);
    }
    expect(bodies[1]).toEqual(bodies[0]);
  });

  describe("refuses an upload that fails a check, writing nothing", () => {
    it.for<{
      name: string;
      uploadIdFor: (caller: User) => Promise<string>;
      status: number;
      code: string;
      /** What the refusal says, where it names what the upload is. */
      detail?: string;
    }>([
      {
        name: "the upload does not exist",
        uploadIdFor: async () => crypto.randomUUID(),
        status: 404,
        code: "upload_not_found",
      },
      {
        name: "case 26: the upload id is the nil UUID",
        uploadIdFor: async () => "00000000-0000-0000-0000-000000000000",
        status: 404,
        code: "upload_not_found",
      },
      {
        name: "case 19: the upload belongs to a teammate",
        uploadIdFor: async () => (await createUpload(await createUser())).id,
        status: 404,
        code: "upload_not_found",
      },
      {
        name: "case 19: the upload belongs to someone in another organization",
        uploadIdFor: async () => (await createUpload(await createUser({ organizationId: "org_other" }))).id,
        status: 404,
        code: "upload_not_found",
      },
      {
        name: "case 20: the upload has another scope",
        uploadIdFor: async (c) => (await createUpload(c, { scope: "attachment" })).id,
        status: 422,
        code: "upload_wrong_scope",
        detail: "The upload's scope is attachment, not profile_picture.",
      },
      {
        name: "case 20: the upload is not an image",
        uploadIdFor: async (c) => (await createUpload(c, { kind: "document" })).id,
        status: 422,
        code: "upload_wrong_kind",
        detail: "The upload's kind is document, not image.",
      },
      {
        name: "case 21: the upload is pending",
        uploadIdFor: async (c) => (await createUpload(c, { state: "pending" })).id,
        status: 409,
        code: "upload_not_ready",
        detail: "The upload's state is pending, not ready.",
      },
      {
        name: "case 21: the upload has failed",
        uploadIdFor: async (c) => (await createUpload(c, { state: "failed" })).id,
        status: 409,
        code: "upload_not_ready",
        detail: "The upload's state is failed, not ready.",
      },
      // The checks run in the contract's order: the first one that fails names the error.
      {
        name: "the upload is someone else's, of another scope, kind and not ready",
        uploadIdFor: async () =>
          (await createUpload(await createUser(), { scope: "attachment", kind: "other", state: "pending" }))
            .id,
        status: 404,
        code: "upload_not_found",
      },
      {
        name: "the upload has another scope and is pending",
        uploadIdFor: async (c) => (await createUpload(c, { scope: "attachment", state: "pending" })).id,
        status: 422,
        code: "upload_wrong_scope",
      },
      {
        name: "the upload has another scope and kind",
        uploadIdFor: async (c) => (await createUpload(c, { scope: "attachment", kind: "document" })).id,
        status: 422,
        code: "upload_wrong_scope",
      },
      {
        name: "the upload is not an image and is pending",
        uploadIdFor: async (c) => (await createUpload(c, { kind: "other", state: "pending" })).id,
        status: 422,
        code: "upload_wrong_kind",
      },
    ])("$name: $status $code", async ({ uploadIdFor, status, code, detail }) => {
      const user = await createUser();
      const current = await createUpload(user);
      await patch(pathFor(user), user, { uploadId: current.id });
      const uploadId = await uploadIdFor(user);
      // Read after the setup: a user's attachments count on their row (`attachment_bytes`).
      const before = (await readUser(user.id)) as User;
      const upload = await readUpload(uploadId);
      const body = await expectError(await patch(pathFor(user), user, { uploadId }), status, code);
      if (detail) expect(body.detail).toBe(detail);
      await expectUnchanged(before);
      if (upload) await expectUnchanged(upload);
    });

    it("case 19: gives the same answer for someone else's upload as for one that does not exist", async () => {
      const user = await createUser();
      const theirs = await createUpload(await createUser());
      const a = await patch(pathFor(user), user, { uploadId: theirs.id });
      const b = await patch(pathFor(user), user, { uploadId: crypto.randomUUID() });
      expect([a.status, await a.json()]).toEqual([b.status, await b.json()]);
    });
  });

  it.for([
    { change: "UPDATE uploads SET state = 'pending' WHERE id = ?", status: 409, code: "upload_not_ready" },
    { change: "UPDATE uploads SET state = 'failed' WHERE id = ?", status: 409, code: "upload_not_ready" },
    {
      change: "UPDATE uploads SET scope = 'attachment' WHERE id = ?",
      status: 422,
      code: "upload_wrong_scope",
    },
    { change: "DELETE FROM uploads WHERE id = ?", status: 404, code: "upload_not_found" },
  ])(
    "case 38: never attaches an upload changed between the check and the write ($change): $status $code",
    async ({ change, status, code }) => {
      const user = await createUser();
      const upload = await createUpload(user);
      // Change the upload just before the write goes out: only a check inside that one statement
      // can see the change. The user as it then is (an upload made an attachment counts on its
      // owner's row) is what the PATCH must leave alone.
      let before = user;
      const d1 = changedBefore(env.DB, /^update "users"/i, async () => {
        await env.DB.prepare(change).bind(upload.id).run();
        before = (await readUser(user.id)) as User;
      });
      const response = await patch(pathFor(user), user, { uploadId: upload.id }, { env: { DB: d1 } });
      await expectError(response, status, code);
      await expectUnchanged(before);
    },
  );

  it.for([
    { state: "inactive", status: 403, code: "user_inactive" },
    { state: "deleted", status: 401, code: "unauthenticated" },
  ] as const)(
    "case 22: answers $status $code to a caller who is $state, writing nothing",
    async ({ state, status, code }) => {
      const user = await createUser({ state });
      const upload = await createUpload(user);
      await expectError(await patch(pathFor(user), user, { uploadId: upload.id }), status, code);
      await expectUnchanged(user, upload);
    },
  );

  it("makes exactly 1 D1 round trip on the happy path: the caller check rides in the write", async () => {
    const user = await createUser();
    const upload = await createUpload(user);
    for (const uploadId of [upload.id, upload.id, null, null]) {
      const d1 = countingD1(env.DB);
      const response = await patch(pathFor(user), user, { uploadId }, { env: { DB: d1 } });
      expect(response.status).toBe(200);
      expect(d1.trips).toHaveLength(1);
      expect(d1.trips[0]).toMatch(/^update "users"/i);
    }
  });
});

describe("PATCH /api/v1/shared/users/{user_id}/profile-picture: who may act on whom", () => {
  it("lets an admin of the same organization set and remove another user's photo", async () => {
    const admin = await createUser({ role: "admin" });
    const target = await createUser();
    const upload = await createUpload(admin);
    const set = await patch(shared(target.id), admin, { uploadId: upload.id });
    expect(set.status).toBe(200);
    const profile = (await set.json()) as Profile;
    expect(profile.id).toBe(target.id);
    expect(profile.profilePictureUrl?.startsWith(`${thumbUrlOf(upload.id)}?`)).toBe(true);
    expect((await readUser(target.id))?.profilePictureUploadId).toBe(upload.id);
    await expectUnchanged(admin);

    const removed = await patch(shared(target.id), admin, { uploadId: null });
    expect(removed.status).toBe(200);
    expect((await readUser(target.id))?.profilePictureUploadId).toBeNull();
  });

  it("makes exactly 1 D1 round trip when an admin acts for someone", async () => {
    const admin = await createUser({ role: "admin" });
    const target = await createUser();
    const upload = await createUpload(admin);
    const d1 = countingD1(env.DB);
    const response = await patch(shared(target.id), admin, { uploadId: upload.id }, { env: { DB: d1 } });
    expect(response.status).toBe(200);
    expect(d1.roundTrips).toBe(1);
  });

  it("judges an admin by the role the token carries: a demoted admin's stale row grants nothing", async () => {
    const admin = await createUser({ role: "admin" });
    const target = await createUser();
    const upload = await createUpload(admin);
    const token = await signToken({ sub: admin.workosUserId, role: "member", org_id: "org_acme" });
    const response = await call(shared(target.id), { method: "PATCH", token, json: { uploadId: upload.id } });
    await expectError(response, 403, "forbidden");
    expect((await readUser(target.id))?.profilePictureUploadId).toBeNull();
    // The token, newer than the stored membership, also records the demotion.
    expect((await readMembership(admin, "org_acme"))?.role).toBe("member");
  });

  it("lets a member promoted in WorkOS act at once: the token's role decides, in one round trip", async () => {
    const promoted = await createUser({ role: "member" });
    const target = await createUser();
    const upload = await createUpload(promoted);
    const token = await signToken({ sub: promoted.workosUserId, role: "admin", org_id: "org_acme" });
    const d1 = countingD1(env.DB);
    const response = await call(shared(target.id), {
      method: "PATCH",
      token,
      json: { uploadId: upload.id },
      env: { DB: d1 },
    });
    expect(response.status).toBe(200);
    expect(d1.roundTrips).toBe(1);
    expect((await readUser(target.id))?.profilePictureUploadId).toBe(upload.id);
  });

  it("requires an admin acting for someone to own the upload (404 for the target's own)", async () => {
    const admin = await createUser({ role: "admin" });
    const target = await createUser();
    const targetsUpload = await createUpload(target);
    await expectError(
      await patch(shared(target.id), admin, { uploadId: targetsUpload.id }),
      404,
      "upload_not_found",
    );
    await expectUnchanged(target, targetsUpload);
  });

  const refusals: {
    name: string;
    setup: () => Promise<{ caller: User; target: User }>;
    status: number;
    code: string;
  }[] = [
    {
      name: "case 18: an admin of another organization",
      setup: async () => ({
        caller: await createUser({ role: "admin", organizationId: "org_other" }),
        target: await createUser(),
      }),
      status: 404,
      code: "user_not_found",
    },
    {
      name: "case 17: a member of the same organization",
      setup: async () => ({ caller: await createUser(), target: await createUser() }),
      status: 403,
      code: "forbidden",
    },
    {
      name: "case 18: a member of another organization",
      setup: async () => ({
        caller: await createUser({ organizationId: "org_other" }),
        target: await createUser(),
      }),
      status: 404,
      code: "user_not_found",
    },
    {
      name: "an admin without an organization, for a user without one",
      setup: async () => ({
        caller: await createUser({ role: "admin", organizationId: null }),
        target: await createUser({ organizationId: null }),
      }),
      status: 404,
      code: "user_not_found",
    },
    {
      name: "an admin, for a deleted user of the same organization",
      setup: async () => ({
        caller: await createUser({ role: "admin" }),
        target: await createUser({ state: "deleted" }),
      }),
      status: 404,
      code: "user_not_found",
    },
  ];

  it.for(
    refusals.flatMap((refusal) =>
      (["an upload", "null"] as const).map((uploadKind) => ({ ...refusal, uploadKind })),
    ),
  )(
    "$name: $status $code (with $uploadKind), writing nothing",
    async ({ setup, status, code, uploadKind }) => {
      const { caller, target } = await setup();
      const previous = await createUpload(target);
      await db().update(users).set({ profilePictureUploadId: previous.id }).where(eq(users.id, target.id));
      const before = (await readUser(target.id)) as User;
      const upload = await createUpload(caller);
      const uploadId = uploadKind === "null" ? null : upload.id;
      await expectError(await patch(shared(target.id), caller, { uploadId }), status, code);
      await expectUnchanged(before, caller, upload);
    },
  );

  it.for([
    { name: "a user that does not exist", id: () => crypto.randomUUID() },
    { name: "case 26: the nil UUID", id: () => "00000000-0000-0000-0000-000000000000" },
  ])("answers 404 user_not_found to an admin for $name, on GET and PATCH", async ({ id }) => {
    const admin = await createUser({ role: "admin" });
    const upload = await createUpload(admin);
    const token = await tokenFor(admin);
    await expectError(await call(`/api/v1/shared/users/${id()}`, { token }), 404, "user_not_found");
    await expectError(await patch(shared(id()), admin, { uploadId: upload.id }), 404, "user_not_found");
    await expectUnchanged(admin, upload);
  });

  it.for([
    { method: "GET", path: (id: string) => `/api/v1/shared/users/${id}`, json: undefined },
    { method: "PATCH", path: shared, json: { uploadId: null } },
  ])(
    "case 18: gives an outsider the same 404 for an existing user as for a missing one ($method)",
    async ({ method, path, json }) => {
      const outsider = await createUser({ role: "admin", organizationId: "org_other" });
      const outsidersUpload = await createUpload(outsider);
      const target = await createUser();
      const token = await tokenFor(outsider);
      const [a, b] = [
        await call(path(target.id), { method, token, json }),
        await call(path(crypto.randomUUID()), { method, token, json }),
      ];
      expect(await expectError(a, 404, "user_not_found")).toEqual(
        await expectError(b, 404, "user_not_found"),
      );
      await expectUnchanged(target, outsider, outsidersUpload);
    },
  );
});

describe("the user_id in the path", () => {
  /** Each route with a user_id, and the body it takes: the upload the PATCH sets, the PUT's image. */
  const methods: {
    method: string;
    path: (segment: string) => string;
    send: (uploadId: string | null) => Pick<CallOptions, "json" | "body" | "headers">;
  }[] = [
    {
      method: "PATCH",
      path: (segment) => `/api/v1/shared/users/${segment}/profile-picture`,
      send: (uploadId) => ({ json: { uploadId } }),
    },
    {
      method: "PUT",
      path: (segment) => `/api/v1/shared/users/${segment}/profile-picture`,
      send: () => ({ body: images.png, headers: { "Content-Type": "image/png" } }),
    },
    { method: "GET", path: (segment) => `/api/v1/shared/users/${segment}`, send: () => ({}) },
  ];
  /** The R2 bucket, recording every key written through it: a refused PUT writes none. */
  const recordingBucket = () => {
    const written: string[] = [];
    return { bucket: bucketChangedBefore(env.BUCKET, "put", async (key) => written.push(key)), written };
  };
  it.for(
    [
      { name: "case 23: not a UUID", segment: "abc" },
      { name: "case 23: a NUL byte", segment: "%00" },
      { name: "case 23: a UUID with a NUL byte", segment: `${"3c90c3cc-0d44-4b50-8888-8dd25736052a"}%00` },
      { name: "case 26: a braced UUID", segment: "%7B3c90c3cc-0d44-4b50-8888-8dd25736052a%7D" },
      { name: "case 23: an encoded slash", segment: "..%2F..%2Fusers%2Fme" },
      { name: "SQL", segment: "1'%20OR%20'1'%3D'1" },
      { name: "case 23: 10 000 characters", segment: "a".repeat(10_000) },
    ].flatMap((row) => methods.map((method) => ({ ...row, ...method }))),
  )("$name: $method answers 422 (never 500), writing nothing", async ({ segment, method, path, send }) => {
    const admin = await createUser({ role: "admin" });
    const { bucket, written } = recordingBucket();
    const response = await call(path(segment), {
      method,
      token: await tokenFor(admin),
      ...send(null),
      env: { BUCKET: bucket },
    });
    const body = await expectError(response, 422, "validation_error");
    expect(body.detail).toEqual([expect.objectContaining({ loc: ["path", "user_id"] })]);
    await expectUnchanged(admin);
    expect(written).toEqual([]);
    expect(await countUploads(admin.id)).toBe(0);
  });

  it.for(
    ["..", "%2e%2e", "./..", "%2E%2E/%2E%2E"].flatMap((segment) => methods.map((m) => ({ segment, ...m }))),
  )(
    "case 23: $method answers 404 not_found (never 500) for a dot segment $segment",
    async ({ segment, method, path, send }) => {
      const admin = await createUser({ role: "admin" });
      const { bucket, written } = recordingBucket();
      const response = await call(path(segment), {
        method,
        token: await tokenFor(admin),
        ...send(null),
        env: { BUCKET: bucket },
      });
      // URLs resolve dot segments (WHATWG URL), so the request names a path no route serves.
      await expectError(response, 404, "not_found");
      await expectUnchanged(admin);
      expect(written).toEqual([]);
      expect(await countUploads(admin.id)).toBe(0);
    },
  );

  it.for(methods)(
    "case 26: $method accepts an upper-case UUID and normalises it",
    async ({ method, path, send }) => {
      const user = await createUser();
      const upload = await createUpload(user);
      const response = await call(path(user.id.toUpperCase()), {
        method,
        token: await tokenFor(user),
        ...send(upload.id),
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as Profile).id).toBe(user.id);
    },
  );
});

describe("PATCH profile-picture: the request body", () => {
  describe.for(selfPaths)("%s", ([, pathFor]) => {
    it.for<{ name: string; value: unknown }>([
      { name: "case 24: abc", value: "abc" },
      { name: "case 24: an empty string", value: "" },
      { name: "case 24: a number", value: 123 },
      { name: "case 24: an array", value: [] },
      { name: "case 24: an object", value: {} },
      { name: "case 24: true", value: true },
      { name: "case 26: a UUID without hyphens", value: "3c90c3cc0d444b5088888dd25736052a" },
      { name: "case 26: a URN UUID", value: "urn:uuid:3c90c3cc-0d44-4b50-8888-8dd25736052a" },
      { name: "case 26: a braced UUID", value: "{3c90c3cc-0d44-4b50-8888-8dd25736052a}" },
      { name: "case 26: a UUID with spaces", value: " 3c90c3cc-0d44-4b50-8888-8dd25736052a " },
    ])("$name as uploadId: 422 with a uniform body", async ({ value }) => {
      const user = await createUser();
      await expectValidationErrorAt(await patch(pathFor(user), user, { uploadId: value }), [
        "body",
        "uploadId",
      ]);
      await expectUnchanged(user);
    });

    it("case 25: answers 422 missing at uploadId for {}", async () => {
      const user = await createUser();
      const body = await expectError(await patch(pathFor(user), user, {}), 422, "validation_error");
      expect(body.detail).toEqual([{ loc: ["body", "uploadId"], msg: "Field required", type: "missing" }]);
      await expectUnchanged(user);
    });

    it.for([null, [], "3c90c3cc-0d44-4b50-8888-8dd25736052a", 1, true].map((body) => ({ body })))(
      "answers 422 for a body that is not an object ($body)",
      async ({ body }) => {
        const user = await createUser();
        await expectError(await patch(pathFor(user), user, body), 422, "validation_error");
        await expectUnchanged(user);
      },
    );

    it.for(["userId", "state", "objectKey", "profilePictureUrl", "upload_id", "__proto__"])(
      "case 27: answers 422 for the extra key %s and applies nothing",
      async (extra) => {
        const user = await createUser();
        const upload = await createUpload(user);
        const json = `{"uploadId": "${upload.id}", "${extra}": "${crypto.randomUUID()}"}`;
        const body = await expectError(
          await patchRaw(pathFor(user), user, json, "application/json"),
          422,
          "validation_error",
        );
        expect(body.detail).toContainEqual(
          expect.objectContaining({ loc: ["body", extra], type: "extra_forbidden" }),
        );
        await expectUnchanged(user, upload);
      },
    );

    it("case 26: accepts an upper-case uploadId and stores it in lower case", async () => {
      const user = await createUser();
      const upload = await createUpload(user);
      const response = await patch(pathFor(user), user, { uploadId: upload.id.toUpperCase() });
      expect(response.status).toBe(200);
      expect((await readUser(user.id))?.profilePictureUploadId).toBe(upload.id);
    });

    it.for([
      { name: "no content type", contentType: undefined },
      { name: "text/plain", contentType: "text/plain" },
      { name: "application/json ;", contentType: "application/json ;" },
      { name: "an unknown parameter", contentType: "application/json; x=y" },
      { name: "a non-UTF-8 charset", contentType: "application/json; charset=latin1" },
      { name: "a form", contentType: "application/x-www-form-urlencoded" },
      { name: "application/jsonp", contentType: "application/jsonp" },
    ])("case 28: answers 415 for $name, writing nothing", async ({ contentType }) => {
      const user = await createUser();
      const upload = await createUpload(user);
      // Bytes, not a string: a string body would get `text/plain` from the Request constructor.
      const body = new TextEncoder().encode(JSON.stringify({ uploadId: upload.id }));
      const response = await patchRaw(pathFor(user), user, body, contentType);
      await expectError(response, 415, "unsupported_media_type");
      await expectUnchanged(user, upload);
    });

    it.for(["application/json; charset=utf-8", "Application/JSON; charset=UTF-8"])(
      "accepts %s",
      async (contentType) => {
        const user = await createUser();
        const upload = await createUpload(user);
        const response = await patchRaw(
          pathFor(user),
          user,
          JSON.stringify({ uploadId: upload.id }),
          contentType,
        );
        expect(response.status).toBe(200);
      },
    );

    it.for<{ name: string; raw: string | Uint8Array }>([
      { name: "case 29: malformed JSON", raw: '{"uploadId": ' },
      { name: "an empty body", raw: "" },
      { name: "single quotes", raw: "{'uploadId': null}" },
      { name: "a trailing comma", raw: '{"uploadId": null,}' },
      { name: "invalid UTF-8", raw: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]) },
    ])("$name: 422 json_invalid", async ({ raw }) => {
      const user = await createUser();
      const body = await expectError(
        await patchRaw(pathFor(user), user, raw, "application/json"),
        422,
        "validation_error",
      );
      expect(body.detail).toEqual([{ loc: ["body"], msg: expect.any(String), type: "json_invalid" }]);
      await expectUnchanged(user);
    });

    it("case 29: lets the last of duplicate keys win, and validates that value", async () => {
      const user = await createUser();
      const upload = await createUpload(user);
      const refused = await patchRaw(
        pathFor(user),
        user,
        `{"uploadId": "${upload.id}", "uploadId": "abc"}`,
        "application/json",
      );
      await expectError(refused, 422, "validation_error");
      await expectUnchanged(user);

      const accepted = await patchRaw(
        pathFor(user),
        user,
        `{"uploadId": "abc", "uploadId": "${upload.id}"}`,
        "application/json",
      );
      expect(accepted.status).toBe(200);
      expect((await readUser(user.id))?.profilePictureUploadId).toBe(upload.id);
    });

    /** A body that would succeed but for its size: the upload id padded with whitespace. */
    const padded = (uploadId: string, bytes: number) => {
      const core = `{"uploadId": "${uploadId}"}`;
      return `${core.slice(0, -1)}${" ".repeat(bytes - core.length)}}`;
    };

    it("case 30: answers 413 for a body over 64 KB, writing nothing", async () => {
      const user = await createUser();
      const upload = await createUpload(user);
      const response = await patchRaw(
        pathFor(user),
        user,
        padded(upload.id, MAX_JSON_BODY_BYTES + 1),
        "application/json",
      );
      await expectError(response, 413, "payload_too_large");
      await expectUnchanged(user);
    });

    it("case 30: answers 413 for a chunked body over 64 KB without Content-Length, writing nothing", async () => {
      const user = await createUser();
      const upload = await createUpload(user);
      const bytes = new TextEncoder().encode(padded(upload.id, MAX_JSON_BODY_BYTES + 1024));
      let pulled = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled >= bytes.length) return controller.close();
          controller.enqueue(bytes.slice(pulled, pulled + 4096));
          pulled += 4096;
        },
      });
      const request = new Request("https://api.test", { method: "PATCH", body: stream });
      expect(request.headers.get("content-length")).toBeNull();
      const response = await patchRaw(pathFor(user), user, stream, "application/json");
      await expectError(response, 413, "payload_too_large");
      await expectUnchanged(user);
    });

    it("accepts a body of exactly 64 KB", async () => {
      const user = await createUser();
      const upload = await createUpload(user);
      const response = await patchRaw(
        pathFor(user),
        user,
        padded(upload.id, MAX_JSON_BODY_BYTES),
        "application/json",
      );
      expect(response.status).toBe(200);
    });

    it.for([
      {
        name: "an uploadId nested 30,000 arrays deep",
        body: `{"uploadId": ${"[".repeat(30_000)}${"]".repeat(30_000)}}`,
        statuses: [413, 422],
      },
      {
        name: "an extra key nested 10,000 objects deep",
        body: `{"uploadId": null, "x": ${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}}`,
        statuses: [413, 422],
      },
      { name: "a 1 MB string", body: JSON.stringify({ uploadId: "a".repeat(1024 * 1024) }), statuses: [413] },
    ])("case 31: answers fast for $name, writing nothing", async ({ body, statuses }) => {
      const user = await createUser();
      const started = performance.now();
      const response = await patchRaw(pathFor(user), user, body, "application/json");
      expect(performance.now() - started).toBeLessThan(1000);
      expect(statuses).toContain(response.status);
      expect(((await response.json()) as ErrorBody).code).toMatch(/^(payload_too_large|validation_error)$/);
      await expectUnchanged(user);
    });
  });
});

describe("the UserProfile response", () => {
  it.for(["set", "removed"] as const)(
    "has exactly the seed's 11 keys and the two avatar keys, with their types, with the photo %s",
    async (photo) => {
      const user = await createUser();
      const upload = await createUpload(user);
      const uploadId = photo === "set" ? upload.id : null;
      const profile = (await (await patch(ME, user, { uploadId })).json()) as Record<string, unknown>;
      expect(Object.keys(profile).sort()).toEqual(PROFILE_KEYS);
      expect(profile).toEqual({
        id: user.id,
        email: user.email,
        emailVerified: true,
        firstName: "Ada",
        lastName: "Lovelace",
        profilePictureUrl: uploadId ? expect.stringMatching(/^https:\/\//) : user.workosProfilePictureUrl,
        role: "member",
        state: "active",
        lastLogin: expect.stringMatching(RFC3339_UTC),
        createdAt: expect.stringMatching(RFC3339_UTC),
        hasCustomProfilePicture: uploadId !== null,
        // Without a custom photo, and before any import of the WorkOS picture: initials.
        avatarUrl: uploadId
          ? profile.profilePictureUrl
          : expect.stringMatching(/^https:\/\/api\.test\/avatars\/initials\//),
        avatarSource: uploadId ? "custom" : "initials",
      });
      expect(profile.id).toMatch(LOWER_UUID);
      expect(new Date(profile.createdAt as string).getTime()).toBe(user.createdAt.getTime());
      expect(new Date(profile.lastLogin as string).getTime()).toBe(user.lastLogin?.getTime());
    },
  );

  it("has lastLogin null and empty names when WorkOS has none", async () => {
    const user = await createUser({ lastLogin: null, firstName: "", lastName: "", emailVerified: false });
    const profile = (await (await patch(ME, user, { uploadId: null })).json()) as Profile;
    expect(profile).toMatchObject({ lastLogin: null, firstName: "", lastName: "", emailVerified: false });
  });

  it.for<{ name: string; send: (user: User) => Promise<Response> }>([
    { name: "the PATCH removing the photo", send: (user) => patch(ME, user, { uploadId: null }) },
    { name: "the PATCH refusing a body", send: (user) => patch(ME, user, { uploadId: "abc" }) },
    {
      name: "the PATCH refusing an upload",
      send: (user) => patch(ME, user, { uploadId: crypto.randomUUID() }),
    },
    {
      name: "GET /users/me",
      send: async (user) => call("/api/v1/users/me", { token: await tokenFor(user) }),
    },
    {
      name: "GET /shared/users/{id}",
      send: async (user) => call(`/api/v1/shared/users/${user.id}`, { token: await tokenFor(user) }),
    },
    { name: "GET /users/me without a token", send: () => call("/api/v1/users/me") },
  ])(
    "case 35: $name carries no-store, nosniff and a request id, and no cookie or X-Powered-By",
    async ({ send }) => {
      const response = await send(await createUser());
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
      expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
      expect(response.headers.get("X-Request-Id")).toMatch(LOWER_UUID);
      expect(response.headers.get("Set-Cookie")).toBeNull();
      expect(response.headers.get("X-Powered-By")).toBeNull();
    },
  );

  it("echoes a sane X-Request-Id", async () => {
    const user = await createUser();
    const response = await patch(
      ME,
      user,
      { uploadId: null },
      { headers: { "X-Request-Id": "req-123_abc.DEF:9" } },
    );
    expect(response.headers.get("X-Request-Id")).toBe("req-123_abc.DEF:9");
  });

  it.for(["<script>alert(1)</script>", "a b", "x".repeat(200)])(
    "replaces an insane X-Request-Id (%s) with a new one",
    async (insane) => {
      const user = await createUser();
      const response = await patch(ME, user, { uploadId: null }, { headers: { "X-Request-Id": insane } });
      const echoed = response.headers.get("X-Request-Id");
      expect(echoed).not.toBe(insane);
      expect(echoed).toMatch(LOWER_UUID);
    },
  );
});

describe("profilePictureUrl", () => {
  /** The epoch second where the next signing window (a quarter of the 3600 s TTL) starts. */
  const nextWindowStart = () => (Math.floor(Date.now() / 1000 / 900) + 1) * 900;

  async function urlAt(user: User, epochSeconds: number) {
    vi.setSystemTime(epochSeconds * 1000);
    const response = await call("/api/v1/users/me", { token: await tokenFor(user) });
    expect(response.status).toBe(200);
    return new URL(((await response.json()) as Profile).profilePictureUrl as string);
  }

  it("case 34: is a SigV4 presigned GET of the upload's 256 px thumbnail in R2, only host signed", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await createUser();
    const upload = await createUpload(user);
    await patch(ME, user, { uploadId: upload.id });
    const start = nextWindowStart();
    const url = await urlAt(user, start + 17);

    expect(url.protocol).toBe("https:");
    expect(url.host).toBe("testaccount.r2.cloudflarestorage.com");
    expect(url.pathname).toBe(`/profile-pictures/uploads/${upload.id}/thumb-256.webp`);
    const params = Object.fromEntries(url.searchParams);
    expect(Object.keys(params).sort()).toEqual(
      [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-Signature",
        "X-Amz-SignedHeaders",
      ].sort(),
    );
    const day = amzDate(start).slice(0, 8);
    expect(params).toEqual({
      "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
      "X-Amz-Credential": `test-access-key-id/${day}/auto/s3/aws4_request`,
      "X-Amz-Date": amzDate(start),
      "X-Amz-Expires": "3600",
      "X-Amz-SignedHeaders": "host",
      "X-Amz-Signature": expect.stringMatching(/^[0-9a-f]{64}$/),
    });

    // The signature is what R2 would compute with the configured secret for this exact URL.
    const expected = await new AwsClient({
      accessKeyId: "test-access-key-id",
      secretAccessKey: "test-secret-access-key",
      service: "s3",
      region: "auto",
    }).sign(`${thumbUrlOf(upload.id)}?X-Amz-Expires=3600`, {
      method: "GET",
      aws: { signQuery: true, datetime: amzDate(start) },
    });
    expect(url.toString()).toBe(expected.url);
    expect(url.toString()).not.toContain("test-secret-access-key");
  });

  it("is the same URL within a signing window, and a new one in the next", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const user = await createUser();
    const upload = await createUpload(user);
    await patch(ME, user, { uploadId: upload.id });
    const start = nextWindowStart();

    const early = await urlAt(user, start);
    const late = await urlAt(user, start + 899);
    const next = await urlAt(user, start + 900);
    expect(late.toString()).toBe(early.toString());
    expect(next.toString()).not.toBe(early.toString());
  });

  it.for([0, 1, 450, 898, 899, 900, 1799])(
    "handed out %i s into a signing window, is valid for at least 3/4 of the TTL",
    async (offset) => {
      vi.useFakeTimers({ toFake: ["Date"] });
      const user = await createUser();
      const upload = await createUpload(user);
      await patch(ME, user, { uploadId: upload.id });
      const now = nextWindowStart() + offset;
      const url = await urlAt(user, now);
      const signedAt = url.searchParams.get("X-Amz-Date") as string;
      const signedAtSeconds =
        Date.UTC(
          Number(signedAt.slice(0, 4)),
          Number(signedAt.slice(4, 6)) - 1,
          Number(signedAt.slice(6, 8)),
          Number(signedAt.slice(9, 11)),
          Number(signedAt.slice(11, 13)),
          Number(signedAt.slice(13, 15)),
        ) / 1000;
      expect(signedAtSeconds).toBeLessThanOrEqual(now);
      const remaining = signedAtSeconds + Number(url.searchParams.get("X-Amz-Expires")) - now;
      expect(remaining).toBeGreaterThanOrEqual(2700);
    },
  );

  it("is the WorkOS URL, or null, without a custom photo", async () => {
    const withWorkos = await createUser();
    const without = await createUser({ workosProfilePictureUrl: null });
    const a = (await (
      await call("/api/v1/users/me", { token: await tokenFor(withWorkos) })
    ).json()) as Profile;
    const b = (await (await call("/api/v1/users/me", { token: await tokenFor(without) })).json()) as Profile;
    expect(a).toMatchObject({
      profilePictureUrl: withWorkos.workosProfilePictureUrl,
      hasCustomProfilePicture: false,
    });
    expect(b).toMatchObject({ profilePictureUrl: null, hasCustomProfilePicture: false });
  });
});

describe("concurrent PATCHes", () => {
  it("case 39: end in the state of one of them, and every response is consistent", async () => {
    const user = await createUser();
    const a = await createUpload(user);
    const b = await createUpload(user);
    const choices = [a.id, b.id, null];
    const sent = Array.from({ length: 20 }, (_, i) => choices[i % 3] ?? null);
    const responses = await Promise.all(sent.map((uploadId) => patch(ME, user, { uploadId })));
    for (const [i, response] of responses.entries()) {
      expect(response.status).toBe(200);
      const profile = (await response.json()) as Profile;
      const uploadId = sent[i] ?? null;
      expect(profile.hasCustomProfilePicture).toBe(uploadId !== null);
      if (uploadId) expect(profile.profilePictureUrl?.startsWith(`${thumbUrlOf(uploadId)}?`)).toBe(true);
      else expect(profile.profilePictureUrl).toBe(user.workosProfilePictureUrl);
    }
    const final = (await readUser(user.id))?.profilePictureUploadId ?? null;
    expect(choices).toContain(final);
    const me = (await (await call("/api/v1/users/me", { token: await tokenFor(user) })).json()) as Profile;
    expect(me.hasCustomProfilePicture).toBe(final !== null);
  });
});

describe("GET /api/v1/users/me", () => {
  it("makes 1 D1 round trip", async () => {
    const user = await createUser();
    await createUpload(user).then((upload) => patch(ME, user, { uploadId: upload.id }));
    const d1 = countingD1(env.DB);
    const response = await call("/api/v1/users/me", { token: await tokenFor(user), env: { DB: d1 } });
    expect(response.status).toBe(200);
    expect(d1.roundTrips).toBe(1);
  });
});
