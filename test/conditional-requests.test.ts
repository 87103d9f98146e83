import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { User } from "../src/db/schema";
import { type CallOptions, call, json } from "./helpers/api";
import { countingD1 } from "./helpers/counting-d1";
import { createUpload, createUser, readUser } from "./helpers/db";
import { faultyD1 } from "./helpers/faulty-d1";
import { expectError, expectUnchanged, expectValidationErrorAt } from "./helpers/refusals";
import { tokenFor } from "./helpers/tokens";
import { mockWorkOS } from "./helpers/workos";
import { deliverWebhook, membershipEvent, workosEvent, workosUserObject } from "./helpers/workos-users";

beforeEach(() => {
  mockWorkOS();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const ME = "/api/v1/users/me";
const MY_PICTURE = "/api/v1/users/me/profile-picture";
const profileOf = (userId: string) => `/api/v1/shared/users/${userId}`;
const pictureOf = (userId: string) => `/api/v1/shared/users/${userId}/profile-picture`;
/** `"<updated_at>.<role>.<digest>"`: a strong tag, its parts base64url. */
const ETAG = /^"\d+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{16}"$/;

const newOrg = () => `org_${crypto.randomUUID().replaceAll("-", "")}`;

/** GET `path` as `caller`; the answer, with `If-None-Match` when given. */
async function read(caller: User, path: string, ifNoneMatch?: string, options: CallOptions = {}) {
  return call(path, {
    token: await tokenFor(caller),
    headers: ifNoneMatch === undefined ? {} : { "If-None-Match": ifNoneMatch },
    ...options,
  });
}

/** The ETag of a 200 answer. */
function etagOf(response: Response): string {
  expect(response.status).toBe(200);
  const etag = response.headers.get("ETag");
  expect(etag).toMatch(ETAG);
  return etag as string;
}

/** PATCH `path` as `caller`, setting `uploadId`, with `If-Match` when given. */
async function patch(
  caller: User,
  path: string,
  uploadId: string | null,
  ifMatch?: string,
  options: CallOptions = {},
) {
  return call(path, {
    method: "PATCH",
    token: await tokenFor(caller),
    json: { uploadId },
    headers: ifMatch === undefined ? {} : { "If-Match": ifMatch },
    ...options,
  });
}

/** The epoch second where the next URL signing window (a quarter of the 3600 s TTL) starts. */
const nextWindowStart = () => (Math.floor(Date.now() / 1000 / 900) + 1) * 900;

/** A caller with a custom photo, the (faked) clock at the start of the next URL signing window. */
async function photoAtWindowStart() {
  vi.useFakeTimers({ toFake: ["Date"] });
  const caller = await createUser();
  await patch(caller, MY_PICTURE, (await createUpload(caller)).id);
  const start = nextWindowStart();
  vi.setSystemTime(start * 1000);
  return { caller, start };
}

describe("ETag and If-None-Match on the GETs of one profile", () => {
  /** Who reads whom: the caller themself on both routes, and a teammate. */
  const reads: { name: string; setup: () => Promise<{ caller: User; path: string }> }[] = [
    {
      name: "GET /api/v1/users/me",
      setup: async () => ({ caller: await createUser(), path: ME }),
    },
    {
      name: "GET /api/v1/shared/users/{user_id} (self)",
      setup: async () => {
        const caller = await createUser();
        return { caller, path: profileOf(caller.id) };
      },
    },
    {
      name: "GET /api/v1/shared/users/{user_id} (a teammate)",
      setup: async () => ({ caller: await createUser(), path: profileOf((await createUser()).id) }),
    },
  ];

  it.for(reads)(
    "$name: 304 with no body, the same ETag and the usual headers for If-None-Match naming it, in no more D1 round trips",
    async ({ setup }) => {
      const { caller, path } = await setup();
      const plain = countingD1(env.DB);
      const etag = etagOf(await read(caller, path, undefined, { env: { DB: plain } }));
      const d1 = countingD1(env.DB);

      const response = await read(caller, path, etag, { env: { DB: d1 } });

      expect(response.status).toBe(304);
      expect(await response.text()).toBe("");
      expect(response.headers.get("ETag")).toBe(etag);
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
      expect(response.headers.get("X-Request-Id")).toBeTruthy();
      expect(d1.roundTrips).toBe(plain.roundTrips);
      if (path === ME) expect(d1.roundTrips).toBe(1);
      await expectUnchanged(caller);
    },
  );

  it.for<{ name: string; ifNoneMatch: (etag: string, other: string) => string; status: number }>([
    {
      name: "the tag weakened by a proxy (W/): weak comparison",
      ifNoneMatch: (etag) => `W/${etag}`,
      status: 304,
    },
    { name: "a list that holds the tag", ifNoneMatch: (etag, other) => `${other}, ${etag}`, status: 304 },
    { name: "*", ifNoneMatch: () => "*", status: 304 },
    { name: "the tag of another pictureSize", ifNoneMatch: (_, other) => other, status: 200 },
    { name: "a tag this service never made", ifNoneMatch: () => '"abc"', status: 200 },
  ])("GET /api/v1/users/me with If-None-Match $name: $status", async ({ ifNoneMatch, status }) => {
    const caller = await createUser();
    await patch(caller, MY_PICTURE, (await createUpload(caller)).id);
    const etag = etagOf(await read(caller, ME));
    const other = etagOf(await read(caller, `${ME}?pictureSize=64`));
    expect(other).not.toBe(etag);

    const response = await read(caller, ME, ifNoneMatch(etag, other));

    expect(response.status).toBe(status);
    if (status === 200) expect(etagOf(response)).toBe(etag);
  });

  it("answers 200 with the new profile and a new ETag once the profile changed", async () => {
    const caller = await createUser();
    const etag = etagOf(await read(caller, ME));
    await patch(caller, MY_PICTURE, (await createUpload(caller)).id);

    const response = await read(caller, ME, etag);

    expect(etagOf(response)).not.toBe(etag);
    expect((await json(response)).hasCustomProfilePicture).toBe(true);
  });

  it("answers 200 with a new URL and a new ETag in the next URL signing window: a 304 never keeps an old URL", async () => {
    const { caller, start } = await photoAtWindowStart();
    const first = await read(caller, ME);
    const etag = etagOf(first);
    const url = (await json(first)).profilePictureUrl;

    vi.setSystemTime((start + 899) * 1000);
    expect((await read(caller, ME, etag)).status).toBe(304);
    vi.setSystemTime((start + 900) * 1000);
    const next = await read(caller, ME, etag);

    expect(etagOf(next)).not.toBe(etag);
    expect((await json(next)).profilePictureUrl).not.toBe(url);
  });

  it.for(["abc", 'w/"abc"', '"a" "b"', "", ",", Array.from({ length: 17 }, (_, i) => `"${i}"`).join(", ")])(
    "answers 422 at header.if-none-match for the malformed If-None-Match '%s'",
    async (ifNoneMatch) => {
      const caller = await createUser();
      await expectValidationErrorAt(await read(caller, ME, ifNoneMatch), ["header", "if-none-match"]);
    },
  );
});

describe("If-Match on the PATCH", () => {
  /** Who changes whose photo: the caller on both paths, and an admin on a teammate. */
  const writes: {
    name: string;
    setup: () => Promise<{ caller: User; target: User; read: string; write: string }>;
  }[] = [
    {
      name: "PATCH /api/v1/users/me/profile-picture",
      setup: async () => {
        const caller = await createUser();
        return { caller, target: caller, read: ME, write: MY_PICTURE };
      },
    },
    {
      name: "PATCH /api/v1/shared/users/{user_id}/profile-picture (self)",
      setup: async () => {
        const caller = await createUser();
        return { caller, target: caller, read: profileOf(caller.id), write: pictureOf(caller.id) };
      },
    },
    {
      name: "PATCH /api/v1/shared/users/{user_id}/profile-picture (an admin, on a teammate)",
      setup: async () => {
        const caller = await createUser({ role: "admin" });
        const target = await createUser();
        return { caller, target, read: profileOf(target.id), write: pictureOf(target.id) };
      },
    },
  ];

  it.for(writes)(
    "$name with the current ETag: 200, written, in 1 D1 round trip, with the ETag a GET then gives",
    async ({ setup }) => {
      const { caller, target, read: readPath, write } = await setup();
      const etag = etagOf(await read(caller, readPath));
      const upload = await createUpload(caller);
      const d1 = countingD1(env.DB);

      const response = await patch(caller, write, upload.id, etag, { env: { DB: d1 } });

      const written = etagOf(response);
      expect(d1.roundTrips).toBe(1);
      expect((await readUser(target.id))?.profilePictureUploadId).toBe(upload.id);
      expect(written).not.toBe(etag);
      expect(etagOf(await read(caller, readPath))).toBe(written);
    },
  );

  it.for(writes)(
    "case 41: $name with the current ETag, its reply lost after the write committed: 200 as written, not 412; the same tag again is 412",
    async ({ setup }) => {
      const { caller, target, read: readPath, write } = await setup();
      const etag = etagOf(await read(caller, readPath));
      const upload = await createUpload(caller);
      // The D1 layer retries the statement, which now misses: the version moved, by this very write.
      const faulty = faultyD1(env.DB, [
        { sql: /^update "users"/i, message: "D1_ERROR: Network connection lost.", times: 1, when: "after" },
      ]);

      const response = await patch(caller, write, upload.id, etag, { env: { DB: faulty.db } });

      const written = etagOf(response);
      expect(faulty.attempts[0]).toBeGreaterThan(1);
      expect(await json(response)).toMatchObject({ id: target.id, hasCustomProfilePicture: true });
      expect((await readUser(target.id))?.profilePictureUploadId).toBe(upload.id);
      expect(etagOf(await read(caller, readPath))).toBe(written);
      // Another request with the same tag is not this write: exactly one wins.
      const after = (await readUser(target.id)) as User;
      const other = await createUpload(caller);
      await expectError(await patch(caller, write, other.id, etag), 412, "precondition_failed");
      await expectUnchanged(after, other);
    },
  );

  it.for(writes)(
    "$name with an ETag from before another change: 412 precondition_failed, nothing written",
    async ({ setup }) => {
      const { caller, target, read: readPath, write } = await setup();
      const stale = etagOf(await read(caller, readPath));
      // Someone else changed the photo meanwhile.
      await patch(caller, write, (await createUpload(caller)).id);
      const before = (await readUser(target.id)) as User;
      const mine = await createUpload(caller);

      const body = await expectError(await patch(caller, write, mine.id, stale), 412, "precondition_failed");

      expect(body.detail).toBe(
        "The profile has changed since the version If-Match names; nothing was written. Read it again.",
      );
      await expectUnchanged(before, mine);
    },
  );

  it("takes an ETag from an earlier URL signing window: a new window alone is no change", async () => {
    const { caller, start } = await photoAtWindowStart();
    const etag = etagOf(await read(caller, ME));
    vi.setSystemTime((start + 3 * 900 + 17) * 1000);
    expect(etagOf(await read(caller, ME))).not.toBe(etag);
    const upload = await createUpload(caller);

    const response = await patch(caller, MY_PICTURE, upload.id, etag);

    expect(response.status).toBe(200);
    expect((await readUser(caller.id))?.profilePictureUploadId).toBe(upload.id);
  });

  it.for<{ name: string; ifMatch: (etag: string, other: string) => string }>([
    { name: "the ETag of another pictureSize", ifMatch: (_, other) => other },
    { name: "a list that holds the current ETag", ifMatch: (etag) => `"abc", W/"def", ${etag}` },
    { name: "*, which asks for nothing", ifMatch: () => "*" },
  ])("writes with If-Match $name", async ({ ifMatch }) => {
    const caller = await createUser();
    const etag = etagOf(await read(caller, ME));
    const other = etagOf(await read(caller, `${ME}?pictureSize=512`));
    const upload = await createUpload(caller);

    const response = await patch(caller, MY_PICTURE, upload.id, ifMatch(etag, other));

    expect(response.status).toBe(200);
    expect((await readUser(caller.id))?.profilePictureUploadId).toBe(upload.id);
  });

  it.for<{ name: string; ifMatch: (etag: string) => string }>([
    { name: "the current ETag made weak (If-Match compares strongly)", ifMatch: (etag) => `W/${etag}` },
    { name: "a strong tag this service never made", ifMatch: () => '"abc"' },
    {
      name: "the current ETag with another role in it",
      ifMatch: (etag) => etag.replace(/\.[A-Za-z0-9_-]*\./, `.${btoa("admin").replace(/=+$/, "")}.`),
    },
  ])("refuses If-Match with $name: 412, nothing written", async ({ ifMatch }) => {
    const caller = await createUser();
    const etag = etagOf(await read(caller, ME));
    const upload = await createUpload(caller);

    await expectError(await patch(caller, MY_PICTURE, upload.id, ifMatch(etag)), 412, "precondition_failed");

    await expectUnchanged(caller, upload);
  });

  it.for(["abc", 'w/"abc"', '"a" "b"', "", Array.from({ length: 17 }, (_, i) => `"${i}"`).join(", ")])(
    "answers 422 at header.if-match for the malformed If-Match '%s', writing nothing",
    async (ifMatch) => {
      const caller = await createUser();
      const upload = await createUpload(caller);
      await expectValidationErrorAt(await patch(caller, MY_PICTURE, upload.id, ifMatch), [
        "header",
        "if-match",
      ]);
      await expectUnchanged(caller, upload);
    },
  );

  describe("is checked after who may act on whom, and before the upload", () => {
    it.for<{
      name: string;
      setup: () => Promise<{ caller: User; target: User; uploadId: string | null }>;
      status: number;
      code: string;
    }>([
      {
        name: "a user in another organization",
        setup: async () => ({
          caller: await createUser({ role: "admin", organizationId: newOrg() }),
          target: await createUser(),
          uploadId: null,
        }),
        status: 404,
        code: "user_not_found",
      },
      {
        name: "a teammate a member may not change",
        setup: async () => ({ caller: await createUser(), target: await createUser(), uploadId: null }),
        status: 403,
        code: "forbidden",
      },
      {
        name: "an upload that does not exist",
        setup: async () => {
          const caller = await createUser();
          return { caller, target: caller, uploadId: crypto.randomUUID() };
        },
        status: 412,
        code: "precondition_failed",
      },
      {
        name: "an upload of another scope",
        setup: async () => {
          const caller = await createUser();
          return {
            caller,
            target: caller,
            uploadId: (await createUpload(caller, { scope: "attachment" })).id,
          };
        },
        status: 412,
        code: "precondition_failed",
      },
    ])("a stale ETag on $name: $status $code", async ({ setup, status, code }) => {
      const { caller, target, uploadId } = await setup();
      // A tag of the target's profile from before a change (made by the target themself).
      const stale = etagOf(await read(target, ME));
      await patch(target, MY_PICTURE, (await createUpload(target)).id);
      const before = (await readUser(target.id)) as User;

      await expectError(await patch(caller, pictureOf(target.id), uploadId, stale), status, code);

      await expectUnchanged(before);
    });
  });

  describe("every write that changes a key of the profile changes its version", () => {
    it.for<{
      name: string;
      /** An admin takes the target's tag, then `change` happens, then the admin PATCHes with that tag. */
      change: (target: User) => Promise<unknown>;
      changed: boolean;
    }>([
      {
        name: "the photo set",
        change: async (target) => patch(target, MY_PICTURE, (await createUpload(target)).id),
        changed: true,
      },
      {
        name: "the photo removed",
        change: (target) => patch(target, MY_PICTURE, null),
        changed: true,
      },
      {
        name: "WorkOS user.updated (a new last name)",
        change: (target) =>
          deliverWebhook(
            workosEvent(
              "user.updated",
              workosUserObject(target.workosUserId, {
                last_name: "Byron",
                updated_at: new Date().toISOString(),
              }),
            ),
          ),
        changed: true,
      },
      {
        name: "WorkOS session.created (lastLogin)",
        change: (target) =>
          deliverWebhook(
            workosEvent("session.created", {
              object: "session",
              id: `session_${crypto.randomUUID().replaceAll("-", "")}`,
              user_id: target.workosUserId,
              created_at: new Date().toISOString(),
            }),
          ),
        changed: true,
      },
      {
        name: "the teammate's role in the organization (organization_membership.updated)",
        change: (target) =>
          deliverWebhook(
            membershipEvent("updated", target, "org_acme", {
              role: { slug: "billing" },
              roles: [{ slug: "billing" }],
              updated_at: new Date().toISOString(),
            }),
          ),
        changed: true,
      },
      {
        name: "setting the photo already set",
        change: async (target) => patch(target, MY_PICTURE, target.profilePictureUploadId),
        changed: false,
      },
      {
        name: "the teammate's role in another organization",
        change: (target) =>
          deliverWebhook(
            membershipEvent("created", target, newOrg(), {
              role: { slug: "owner" },
              roles: [{ slug: "owner" }],
              updated_at: new Date().toISOString(),
            }),
          ),
        changed: false,
      },
    ])("$name: $changed", async ({ change, changed }) => {
      const admin = await createUser({ role: "admin" });
      const teammate = await createUser();
      await patch(teammate, MY_PICTURE, (await createUpload(teammate)).id);
      const target = (await readUser(teammate.id)) as User;
      const etag = etagOf(await read(admin, profileOf(target.id)));

      await change(target);
      const before = (await readUser(target.id)) as User;
      const upload = await createUpload(admin);
      const response = await patch(admin, pictureOf(target.id), upload.id, etag);

      if (changed) {
        await expectError(response, 412, "precondition_failed");
        await expectUnchanged(before);
      } else {
        expect(response.status).toBe(200);
        expect((await readUser(target.id))?.profilePictureUploadId).toBe(upload.id);
      }
    });

    it("the token's role, the role a profile of the caller shows: 412 for a tag read with another role", async () => {
      const caller = await createUser({ role: "member" });
      const etag = etagOf(await read(caller, ME));
      const upload = await createUpload(caller);

      const response = await call(MY_PICTURE, {
        method: "PATCH",
        token: await tokenFor(caller, { role: "admin" }),
        json: { uploadId: upload.id },
        headers: { "If-Match": etag },
      });

      await expectError(response, 412, "precondition_failed");
      expect((await readUser(caller.id))?.profilePictureUploadId).toBeNull();
    });

    it("two writes in one millisecond: the second still moves the version", async () => {
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(Date.now());
      const caller = await createUser();
      await patch(caller, MY_PICTURE, (await createUpload(caller)).id);
      const etag = etagOf(await read(caller, ME));
      // The clock has not moved: without care, updated_at (the version) would keep its value.
      await patch(caller, MY_PICTURE, (await createUpload(caller)).id);
      const before = (await readUser(caller.id)) as User;

      const response = await patch(caller, MY_PICTURE, (await createUpload(caller)).id, etag);

      await expectError(response, 412, "precondition_failed");
      await expectUnchanged(before);
    });
  });

  it.for([2, 5])(
    "%i concurrent PATCHes with the same If-Match: exactly one wins, the others are 412",
    async (count) => {
      const caller = await createUser();
      const etag = etagOf(await read(caller, ME));
      const uploads = await Promise.all(Array.from({ length: count }, () => createUpload(caller)));

      const responses = await Promise.all(
        uploads.map((upload) => patch(caller, MY_PICTURE, upload.id, etag)),
      );

      const statuses = responses.map((response) => response.status);
      expect(statuses.filter((status) => status === 200)).toHaveLength(1);
      expect(statuses.filter((status) => status === 412)).toHaveLength(count - 1);
      const winner = uploads[statuses.indexOf(200)];
      expect((await readUser(caller.id))?.profilePictureUploadId).toBe(winner?.id);
    },
  );

  it("2 concurrent PATCHes with the same If-Match and the same upload: still exactly one wins", async () => {
    const caller = await createUser();
    const etag = etagOf(await read(caller, ME));
    const upload = await createUpload(caller);

    const responses = await Promise.all([0, 1].map(() => patch(caller, MY_PICTURE, upload.id, etag)));

    expect(responses.map((response) => response.status).sort()).toEqual([200, 412]);
    expect((await readUser(caller.id))?.profilePictureUploadId).toBe(upload.id);
  });

  it("a stale If-Match is 412 even when the profile already is what the PATCH asks for, nothing written", async () => {
    const caller = await createUser();
    const etag = etagOf(await read(caller, ME));
    const upload = await createUpload(caller);
    expect((await patch(caller, MY_PICTURE, upload.id, etag)).status).toBe(200);
    const before = await readUser(caller.id);

    await expectError(await patch(caller, MY_PICTURE, upload.id, etag), 412, "precondition_failed");
    expect(await readUser(caller.id)).toEqual(before);
  });
});
