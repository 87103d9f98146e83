import { env } from "cloudflare:workers";
import { AwsClient } from "aws4fetch";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type User, users } from "../src/db/schema";
import { MAX_JSON_BODY_BYTES } from "../src/lib/json-body";
import { amzDate } from "../src/lib/presign";
import { type CallOptions, call } from "./helpers/api";
import { changedBefore, countingD1 } from "./helpers/counting-d1";
import { createUpload, createUser, db, readMembership, readUpload, readUser } from "./helpers/db";
import { type ErrorBody, expectError, expectUnchanged, expectValidationErrorAt } from "./helpers/refusals";
import { signToken, tokenFor } from "./helpers/tokens";
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

describe.each(selfPaths)("%s", (_name, pathFor) => {
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
    await expectUnchanged(upload);
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

  it("removing when none is set succeeds and changes nothing, twice", async () => {
    const user = await createUser();
    for (let i = 0; i < 2; i++) {
      const response = await patch(pathFor(user), user, { uploadId: null });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ hasCustomProfilePicture: false });
      await expectUnchanged(user);
    }
  });

  describe("refuses an upload that fails a check, writing nothing", () => {
    const failing: [string, (caller: User) => Promise<string>, number, string][] = [
      ["does not exist", async () => crypto.randomUUID(), 404, "upload_not_found"],
      ["is the nil UUID", async () => "00000000-0000-0000-0000-000000000000", 404, "upload_not_found"],
      [
        "belongs to a teammate",
        async () => (await createUpload(await createUser())).id,
        404,
        "upload_not_found",
      ],
      [
        "belongs to someone in another organization",
        async () => (await createUpload(await createUser({ organizationId: "org_other" }))).id,
        404,
        "upload_not_found",
      ],
      [
        "has another scope",
        async (c) => (await createUpload(c, { scope: "attachment" })).id,
        422,
        "upload_wrong_scope",
      ],
      [
        "is not an image",
        async (c) => (await createUpload(c, { kind: "document" })).id,
        422,
        "upload_wrong_kind",
      ],
      ["is pending", async (c) => (await createUpload(c, { state: "pending" })).id, 409, "upload_not_ready"],
      ["has failed", async (c) => (await createUpload(c, { state: "failed" })).id, 409, "upload_not_ready"],
      // The checks run in the contract's order: the first one that fails names the error.
      [
        "is someone else's, of another scope, kind and not ready",
        async () =>
          (await createUpload(await createUser(), { scope: "attachment", kind: "other", state: "pending" }))
            .id,
        404,
        "upload_not_found",
      ],
      [
        "has another scope and is pending",
        async (c) => (await createUpload(c, { scope: "attachment", state: "pending" })).id,
        422,
        "upload_wrong_scope",
      ],
      [
        "has another scope and kind",
        async (c) => (await createUpload(c, { scope: "attachment", kind: "document" })).id,
        422,
        "upload_wrong_scope",
      ],
      [
        "is not an image and is pending",
        async (c) => (await createUpload(c, { kind: "other", state: "pending" })).id,
        422,
        "upload_wrong_kind",
      ],
    ];

    for (const [name, uploadIdFor, status, code] of failing) {
      it(`${status} ${code} when the upload ${name}`, async () => {
        const user = await createUser();
        const current = await createUpload(user);
        await patch(pathFor(user), user, { uploadId: current.id });
        const before = (await readUser(user.id)) as User;
        const uploadId = await uploadIdFor(user);
        const upload = await readUpload(uploadId);
        await expectError(await patch(pathFor(user), user, { uploadId }), status, code);
        await expectUnchanged(before);
        if (upload) await expectUnchanged(upload);
      });
    }

    it("gives the same answer for someone else's upload as for one that does not exist", async () => {
      const user = await createUser();
      const theirs = await createUpload(await createUser());
      const a = await patch(pathFor(user), user, { uploadId: theirs.id });
      const b = await patch(pathFor(user), user, { uploadId: crypto.randomUUID() });
      expect([a.status, await a.json()]).toEqual([b.status, await b.json()]);
    });
  });

  it("never attaches an upload that stops being ready between the check and the write", async () => {
    const user = await createUser();
    for (const change of [
      "UPDATE uploads SET state = 'pending' WHERE id = ?",
      "UPDATE uploads SET state = 'failed' WHERE id = ?",
      "UPDATE uploads SET scope = 'attachment' WHERE id = ?",
      "DELETE FROM uploads WHERE id = ?",
    ]) {
      const upload = await createUpload(user);
      // Change the upload just before the write goes out: only a check inside that one statement
      // can see the change.
      const d1 = changedBefore(env.DB, /^update "users"/i, () =>
        env.DB.prepare(change).bind(upload.id).run(),
      );
      const response = await patch(pathFor(user), user, { uploadId: upload.id }, { env: { DB: d1 } });
      expect(response.status).not.toBe(200);
      expect([404, 409, 422]).toContain(response.status);
      await expectUnchanged(user);
    }
  });

  it("answers 403 user_inactive to an inactive caller and 401 to a deleted one, writing nothing", async () => {
    for (const [state, status, code] of [
      ["inactive", 403, "user_inactive"],
      ["deleted", 401, "unauthenticated"],
    ] as const) {
      const user = await createUser({ state });
      const upload = await createUpload(user);
      await expectError(await patch(pathFor(user), user, { uploadId: upload.id }), status, code);
      await expectUnchanged(user, upload);
    }
  });

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

  const refusals: [string, () => Promise<{ caller: User; target: User }>, number, string][] = [
    [
      "an admin of another organization",
      async () => ({
        caller: await createUser({ role: "admin", organizationId: "org_other" }),
        target: await createUser(),
      }),
      404,
      "user_not_found",
    ],
    [
      "a member of the same organization",
      async () => ({ caller: await createUser(), target: await createUser() }),
      403,
      "forbidden",
    ],
    [
      "a member of another organization",
      async () => ({ caller: await createUser({ organizationId: "org_other" }), target: await createUser() }),
      404,
      "user_not_found",
    ],
    [
      "an admin without an organization, for a user without one",
      async () => ({
        caller: await createUser({ role: "admin", organizationId: null }),
        target: await createUser({ organizationId: null }),
      }),
      404,
      "user_not_found",
    ],
    [
      "an admin, for a deleted user of the same organization",
      async () => ({
        caller: await createUser({ role: "admin" }),
        target: await createUser({ state: "deleted" }),
      }),
      404,
      "user_not_found",
    ],
  ];

  for (const [name, setup, status, code] of refusals) {
    for (const uploadKind of ["an upload", "null"] as const) {
      it(`answers ${status} ${code} to ${name} (with ${uploadKind}), writing nothing`, async () => {
        const { caller, target } = await setup();
        const previous = await createUpload(target);
        await db().update(users).set({ profilePictureUploadId: previous.id }).where(eq(users.id, target.id));
        const before = (await readUser(target.id)) as User;
        const upload = await createUpload(caller);
        const uploadId = uploadKind === "null" ? null : upload.id;
        await expectError(await patch(shared(target.id), caller, { uploadId }), status, code);
        await expectUnchanged(before, caller, upload);
      });
    }
  }

  it("answers 404 user_not_found for a user that does not exist, or the nil UUID", async () => {
    const admin = await createUser({ role: "admin" });
    const upload = await createUpload(admin);
    for (const id of [crypto.randomUUID(), "00000000-0000-0000-0000-000000000000"]) {
      await expectError(await patch(shared(id), admin, { uploadId: upload.id }), 404, "user_not_found");
    }
    await expectUnchanged(admin);
  });

  it("gives an outsider the same 404 for an existing user as for a missing one", async () => {
    const outsider = await createUser({ role: "admin", organizationId: "org_other" });
    const target = await createUser();
    const a = await patch(shared(target.id), outsider, { uploadId: null });
    const b = await patch(shared(crypto.randomUUID()), outsider, { uploadId: null });
    expect([a.status, await a.json()]).toEqual([b.status, await b.json()]);
  });
});

describe("PATCH profile-picture: the user_id in the path", () => {
  const cases: [string, string][] = [
    ["not a UUID", "abc"],
    ["a NUL byte", "%00"],
    ["a UUID with a NUL byte", `${"3c90c3cc-0d44-4b50-8888-8dd25736052a"}%00`],
    ["a braced UUID", "%7B3c90c3cc-0d44-4b50-8888-8dd25736052a%7D"],
    ["an encoded slash", "..%2F..%2Fusers%2Fme"],
    ["SQL", "1'%20OR%20'1'%3D'1"],
    ["10 000 characters", "a".repeat(10_000)],
  ];
  for (const [name, segment] of cases) {
    it(`answers 422 (never 500) for ${name}, writing nothing`, async () => {
      const admin = await createUser({ role: "admin" });
      for (const [method, path, json] of [
        ["PATCH", `/api/v1/shared/users/${segment}/profile-picture`, { uploadId: null }],
        ["GET", `/api/v1/shared/users/${segment}`, undefined],
      ] as const) {
        const response = await call(path, { method, token: await tokenFor(admin), json });
        const body = await expectError(response, 422, "validation_error");
        expect(body.detail).toEqual([expect.objectContaining({ loc: ["path", "user_id"] })]);
      }
      await expectUnchanged(admin);
    });
  }

  for (const segment of ["..", "%2e%2e", "./..", "%2E%2E/%2E%2E"]) {
    it(`answers 404 or 422 (never 500) for a dot segment ${segment}`, async () => {
      const admin = await createUser({ role: "admin" });
      const response = await call(`/api/v1/shared/users/${segment}/profile-picture`, {
        method: "PATCH",
        token: await tokenFor(admin),
        json: { uploadId: null },
      });
      expect([404, 405, 422]).toContain(response.status);
      expect(((await response.json()) as ErrorBody).code).toMatch(
        /^(not_found|method_not_allowed|validation_error)$/,
      );
      await expectUnchanged(admin);
    });
  }

  it("accepts an upper-case UUID and normalises it", async () => {
    const user = await createUser();
    const upload = await createUpload(user);
    const response = await patch(shared(user.id.toUpperCase()), user, { uploadId: upload.id });
    expect(response.status).toBe(200);
    expect(((await response.json()) as Profile).id).toBe(user.id);
  });
});

describe("PATCH profile-picture: the request body", () => {
  describe.each(selfPaths)("%s", (_name, pathFor) => {
    for (const [name, value] of [
      ["abc", "abc"],
      ["an empty string", ""],
      ["a number", 123],
      ["an array", []],
      ["an object", {}],
      ["true", true],
      ["a UUID without hyphens", "3c90c3cc0d444b5088888dd25736052a"],
      ["a URN UUID", "urn:uuid:3c90c3cc-0d44-4b50-8888-8dd25736052a"],
      ["a braced UUID", "{3c90c3cc-0d44-4b50-8888-8dd25736052a}"],
      ["a UUID with spaces", " 3c90c3cc-0d44-4b50-8888-8dd25736052a "],
    ] as const) {
      it(`answers 422 with a uniform body for uploadId ${name}`, async () => {
        const user = await createUser();
        await expectValidationErrorAt(await patch(pathFor(user), user, { uploadId: value }), [
          "body",
          "uploadId",
        ]);
        await expectUnchanged(user);
      });
    }

    it("answers 422 missing at uploadId for {}", async () => {
      const user = await createUser();
      const body = await expectError(await patch(pathFor(user), user, {}), 422, "validation_error");
      expect(body.detail).toEqual([{ loc: ["body", "uploadId"], msg: "Field required", type: "missing" }]);
      await expectUnchanged(user);
    });

    for (const body of [null, [], "3c90c3cc-0d44-4b50-8888-8dd25736052a", 1, true]) {
      it(`answers 422 for a body that is not an object (${JSON.stringify(body)})`, async () => {
        const user = await createUser();
        await expectError(await patch(pathFor(user), user, body), 422, "validation_error");
        await expectUnchanged(user);
      });
    }

    for (const extra of ["userId", "state", "objectKey", "profilePictureUrl", "upload_id", "__proto__"]) {
      it(`answers 422 for the extra key ${extra} and applies nothing`, async () => {
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
        await expectUnchanged(user);
      });
    }

    it("accepts an upper-case uploadId and stores it in lower case", async () => {
      const user = await createUser();
      const upload = await createUpload(user);
      const response = await patch(pathFor(user), user, { uploadId: upload.id.toUpperCase() });
      expect(response.status).toBe(200);
      expect((await readUser(user.id))?.profilePictureUploadId).toBe(upload.id);
    });

    for (const [contentType, label] of [
      [undefined, "no content type"],
      ["text/plain", "text/plain"],
      ["application/json ;", "application/json ;"],
      ["application/json; charset=latin1", "a non-UTF-8 charset"],
      ["application/x-www-form-urlencoded", "a form"],
      ["application/jsonp", "application/jsonp"],
    ] as const) {
      it(`answers 415 for ${label}, writing nothing`, async () => {
        const user = await createUser();
        const upload = await createUpload(user);
        const response = await patchRaw(
          pathFor(user),
          user,
          JSON.stringify({ uploadId: upload.id }),
          contentType,
        );
        await expectError(response, 415, "unsupported_media_type");
        await expectUnchanged(user);
      });
    }

    for (const contentType of ["application/json; charset=utf-8", "Application/JSON; charset=UTF-8"]) {
      it(`accepts ${contentType}`, async () => {
        const user = await createUser();
        const upload = await createUpload(user);
        const response = await patchRaw(
          pathFor(user),
          user,
          JSON.stringify({ uploadId: upload.id }),
          contentType,
        );
        expect(response.status).toBe(200);
      });
    }

    for (const [label, raw] of [
      ["malformed JSON", '{"uploadId": '],
      ["an empty body", ""],
      ["single quotes", "{'uploadId': null}"],
      ["a trailing comma", '{"uploadId": null,}'],
      ["invalid UTF-8", new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
    ] as const) {
      it(`answers 422 json_invalid for ${label}`, async () => {
        const user = await createUser();
        const body = await expectError(
          await patchRaw(pathFor(user), user, raw, "application/json"),
          422,
          "validation_error",
        );
        expect(body.detail).toEqual([{ loc: ["body"], msg: expect.any(String), type: "json_invalid" }]);
        await expectUnchanged(user);
      });
    }

    it("lets the last of duplicate keys win, and validates that value", async () => {
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

    it("answers 413 for a body over 64 KB, writing nothing", async () => {
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

    it("answers 413 for a chunked body over 64 KB without Content-Length, writing nothing", async () => {
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

    it("answers fast for deeply nested JSON and a 1 MB string", async () => {
      const user = await createUser();
      const depth = 30_000;
      const nested = `{"uploadId": ${"[".repeat(depth)}${"]".repeat(depth)}}`;
      const extraNested = `{"uploadId": null, "x": ${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}}`;
      const huge = JSON.stringify({ uploadId: "a".repeat(1024 * 1024) });
      for (const [body, statuses] of [
        [nested, [413, 422]],
        [extraNested, [413, 422]],
        [huge, [413]],
      ] as const) {
        const started = performance.now();
        const response = await patchRaw(pathFor(user), user, body, "application/json");
        expect(performance.now() - started).toBeLessThan(1000);
        expect(statuses).toContain(response.status);
        expect(((await response.json()) as ErrorBody).code).toMatch(/^(payload_too_large|validation_error)$/);
      }
      await expectUnchanged(user);
    });
  });
});

describe("the UserProfile response", () => {
  it("has exactly the 11 keys, with their types", async () => {
    const user = await createUser();
    const upload = await createUpload(user);
    for (const uploadId of [upload.id, null]) {
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
      });
      expect(profile.id).toMatch(LOWER_UUID);
      expect(new Date(profile.createdAt as string).getTime()).toBe(user.createdAt.getTime());
      expect(new Date(profile.lastLogin as string).getTime()).toBe(user.lastLogin?.getTime());
    }
  });

  it("has lastLogin null and empty names when WorkOS has none", async () => {
    const user = await createUser({ lastLogin: null, firstName: "", lastName: "", emailVerified: false });
    const profile = (await (await patch(ME, user, { uploadId: null })).json()) as Profile;
    expect(profile).toMatchObject({ lastLogin: null, firstName: "", lastName: "", emailVerified: false });
  });

  it("carries no-store, nosniff and a request id, and no cookie or X-Powered-By, on success and on error", async () => {
    const user = await createUser();
    for (const json of [{ uploadId: null }, { uploadId: "abc" }, { uploadId: crypto.randomUUID() }]) {
      const response = await patch(ME, user, json);
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
      expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
      expect(response.headers.get("X-Request-Id")).toMatch(LOWER_UUID);
      expect(response.headers.get("Set-Cookie")).toBeNull();
      expect(response.headers.get("X-Powered-By")).toBeNull();
    }
  });

  it("echoes a sane X-Request-Id and replaces an insane one", async () => {
    const user = await createUser();
    const withId = (id: string) => patch(ME, user, { uploadId: null }, { headers: { "X-Request-Id": id } });
    expect((await withId("req-123_abc.DEF:9")).headers.get("X-Request-Id")).toBe("req-123_abc.DEF:9");
    for (const insane of ["<script>alert(1)</script>", "a b", "x".repeat(200)]) {
      const echoed = (await withId(insane)).headers.get("X-Request-Id");
      expect(echoed).not.toBe(insane);
      expect(echoed).toMatch(LOWER_UUID);
    }
  });
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

  it("is a SigV4 presigned GET of the upload's 256 px thumbnail in R2", async () => {
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

  it("is the same URL within a signing window, a new one in the next, and always valid for 3/4 of the TTL", async () => {
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

    for (const offset of [0, 1, 450, 898, 899, 900, 1799]) {
      const now = start + offset;
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
    }
  });

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
  it("end in the state of one of them, and every response is consistent", async () => {
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
