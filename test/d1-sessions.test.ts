import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { User } from "../src/db/schema";
import { cleanUpStorage } from "../src/jobs/storage-cleanup";
import { D1Session, isBookmark } from "../src/lib/d1";
import * as images from "./fixtures/images";
import { type CallOptions, call, json } from "./helpers/api";
import { type CountingD1, countingD1 } from "./helpers/counting-d1";
import { createUpload, createUser, readUser } from "./helpers/db";
import { faultyD1 } from "./helpers/faulty-d1";
import { tokenFor } from "./helpers/tokens";
import { emulated } from "./helpers/uploads";
import { mockWorkOS } from "./helpers/workos";
import { signWebhook, workosEvent, workosUserObject } from "./helpers/workos-users";

afterEach(() => vi.restoreAllMocks());

const BOOKMARK = "x-d1-bookmark";
const LOST = "D1_ERROR: Network connection lost.";

/** A bookmark of the database as it is now, as an earlier response would have carried it. */
async function currentBookmark(): Promise<string> {
  const session = env.DB.withSession("first-primary");
  await session.prepare("SELECT 1").first();
  const bookmark = session.getBookmark();
  if (!isBookmark(bookmark)) throw new Error(`not a bookmark: ${bookmark}`);
  return bookmark;
}

/** `call`, sending `bookmark` (when given) and counting D1 through `d1`. */
function callWith(path: string, d1: D1Database, bookmark: string | undefined, options: CallOptions = {}) {
  return call(path, {
    ...options,
    headers: { ...options.headers, ...(bookmark === undefined ? {} : { [BOOKMARK]: bookmark }) },
    env: { ...emulated, ...options.env, DB: d1 },
  });
}

interface Caller {
  user: User;
  token: string;
}

async function member(overrides: Parameters<typeof createUser>[0] = {}): Promise<Caller> {
  const user = await createUser(overrides);
  return { user, token: await tokenFor(user) };
}

describe("every request's queries go through one D1 session", () => {
  interface Row {
    name: string;
    /** Whether the request sends a (valid) bookmark. */
    sends: boolean;
    /** Where its session must start: the client's bookmark, anywhere, or the primary. */
    starts: "the bookmark" | "first-unconstrained" | "first-primary";
    status: number;
    /** Round trips the contract fixes for the happy path, when it does. */
    roundTrips?: number;
    request: (d1: CountingD1, bookmark: string | undefined) => Promise<Response>;
  }

  /** The one-call PUT of a photo, as `token`'s user. */
  const putPhoto = (token: string): CallOptions => ({
    method: "PUT",
    token,
    body: images.png,
    headers: { "Content-Type": "image/png" },
  });

  /** A plain read by a new member. */
  const read = (path: string) => async (d1: CountingD1, bookmark: string | undefined) =>
    callWith(path, d1, bookmark, { token: (await member()).token });

  it.for<Row>([
    {
      name: "GET /users/me without a bookmark",
      sends: false,
      starts: "first-unconstrained",
      status: 200,
      roundTrips: 1,
      request: read("/api/v1/users/me"),
    },
    {
      name: "GET /users/me",
      sends: true,
      starts: "the bookmark",
      status: 200,
      roundTrips: 1,
      request: read("/api/v1/users/me"),
    },
    {
      name: "GET /shared/users (a members page)",
      sends: true,
      starts: "the bookmark",
      status: 200,
      roundTrips: 1,
      request: read("/api/v1/shared/users?limit=5"),
    },
    {
      name: "GET /shared/users/{id}",
      sends: true,
      starts: "the bookmark",
      status: 200,
      request: async (d1, bookmark) => {
        const [caller, teammate] = [await member(), await member()];
        return callWith(`/api/v1/shared/users/${teammate.user.id}`, d1, bookmark, { token: caller.token });
      },
    },
    {
      name: "GET /uploads/{id}",
      sends: true,
      starts: "the bookmark",
      status: 200,
      request: async (d1, bookmark) => {
        const caller = await member();
        const upload = await createUpload(caller.user);
        return callWith(`/api/v1/uploads/${upload.id}`, d1, bookmark, { token: caller.token });
      },
    },
    {
      name: "PATCH /users/me/profile-picture",
      sends: true,
      starts: "first-primary",
      status: 200,
      roundTrips: 1,
      request: async (d1, bookmark) => {
        const caller = await member();
        const upload = await createUpload(caller.user);
        return callWith("/api/v1/users/me/profile-picture", d1, bookmark, {
          method: "PATCH",
          token: caller.token,
          json: { uploadId: upload.id },
        });
      },
    },
    {
      name: "PATCH /shared/users/{id}/profile-picture",
      sends: true,
      starts: "first-primary",
      status: 200,
      roundTrips: 1,
      request: async (d1, bookmark) => {
        const [admin, teammate] = [await member({ role: "admin" }), await member()];
        const upload = await createUpload(admin.user);
        return callWith(`/api/v1/shared/users/${teammate.user.id}/profile-picture`, d1, bookmark, {
          method: "PATCH",
          token: admin.token,
          json: { uploadId: upload.id },
        });
      },
    },
    {
      name: "PUT /users/me/profile-picture (the image as the body)",
      sends: true,
      starts: "first-primary",
      status: 200,
      request: async (d1, bookmark) =>
        callWith("/api/v1/users/me/profile-picture", d1, bookmark, putPhoto((await member()).token)),
    },
    {
      name: "PUT /shared/users/{id}/profile-picture (the image as the body)",
      sends: true,
      starts: "first-primary",
      status: 200,
      request: async (d1, bookmark) => {
        const [admin, teammate] = [await member({ role: "admin" }), await member()];
        return callWith(
          `/api/v1/shared/users/${teammate.user.id}/profile-picture`,
          d1,
          bookmark,
          putPhoto(admin.token),
        );
      },
    },
    {
      name: "POST /uploads",
      sends: true,
      starts: "first-primary",
      status: 201,
      request: async (d1, bookmark) =>
        callWith("/api/v1/uploads", d1, bookmark, {
          method: "POST",
          token: (await member()).token,
          json: { kind: "image", scope: "profile_picture", contentType: "image/png", size: 100 },
        }),
    },
    {
      name: "POST /uploads/{id}/complete (no bytes yet: 409)",
      sends: true,
      starts: "first-primary",
      status: 409,
      request: async (d1, bookmark) => {
        const caller = await member();
        const upload = await createUpload(caller.user, { state: "pending", thumbKey: null });
        return callWith(`/api/v1/uploads/${upload.id}/complete`, d1, bookmark, {
          method: "POST",
          token: caller.token,
        });
      },
    },
    {
      name: "POST /webhooks/workos",
      sends: true,
      starts: "first-primary",
      status: 200,
      request: async (d1, bookmark) => {
        const body = JSON.stringify(
          workosEvent("user.updated", workosUserObject((await member()).user.workosUserId)),
        );
        return callWith("/webhooks/workos", d1, bookmark, {
          method: "POST",
          body,
          headers: { "Content-Type": "application/json", "WorkOS-Signature": await signWebhook(body) },
        });
      },
    },
  ])("$name starts its one session at $starts", async ({ sends, starts, status, roundTrips, request }) => {
    mockWorkOS();
    const sent = sends ? await currentBookmark() : undefined;
    const d1 = countingD1(env.DB);

    const response = await request(d1, sent);

    expect(response.status).toBe(status);
    expect(d1.sessionStarts).toEqual([starts === "the bookmark" ? sent : starts]);
    expect(d1.roundTrips).toBeGreaterThan(0);
    expect(d1.tripsOutsideSessions).toBe(0);
    if (roundTrips !== undefined) expect(d1.roundTrips).toBe(roundTrips);
    // The session's latest bookmark, never older than the one sent.
    const answered = response.headers.get(BOOKMARK);
    expect(isBookmark(answered)).toBe(true);
    if (sent) expect(answered && answered >= sent).toBe(true);
  });

  it("the storage cleanup runs in one session from the primary", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    const d1 = countingD1(env.DB);
    await cleanUpStorage({ ...env, DB: d1 }, new Date());
    expect(d1.sessionStarts).toEqual(["first-primary"]);
    expect(d1.roundTrips).toBeGreaterThan(0);
    expect(d1.tripsOutsideSessions).toBe(0);
  });

  it("its round trips are what the request log and Server-Timing report", async () => {
    mockWorkOS();
    const logged = vi.spyOn(console, "log").mockImplementation(() => {});
    const { token } = await member();
    const d1 = countingD1(env.DB);
    const response = await call("/api/v1/users/me", {
      token,
      headers: { "X-Request-Id": "req-session-trips" },
      env: { DB: d1, SERVER_TIMING: "true" },
    });
    expect(response.status).toBe(200);
    expect(d1.roundTrips).toBe(1);
    expect(response.headers.get("Server-Timing")).toMatch(/^d1;desc="1";dur=\d+$/);
    const line = logged.mock.calls
      .map(([text]) => JSON.parse(String(text)) as { requestId?: string; d1RoundTrips?: number })
      .find((entry) => entry.requestId === "req-session-trips");
    expect(line?.d1RoundTrips).toBe(1);
  });

  it("refuses to move a session to the primary once a statement ran in it", async () => {
    const session = new D1Session(env.DB, "first-unconstrained");
    await session.client.prepare("SELECT 1").first();
    expect(() => session.startAtPrimary()).toThrow(/after the session's first statement/);
  });
});

describe("x-d1-bookmark", () => {
  it("a read sent with the PATCH's bookmark starts from it and sees the PATCH", async () => {
    mockWorkOS();
    const { user, token } = await member();
    const upload = await createUpload(user);
    const patched = await call("/api/v1/users/me/profile-picture", {
      method: "PATCH",
      token,
      json: { uploadId: upload.id },
    });
    expect(patched.status).toBe(200);
    const written = patched.headers.get(BOOKMARK);
    expect(isBookmark(written)).toBe(true);

    const d1 = countingD1(env.DB);
    const read = await callWith("/api/v1/users/me", d1, written ?? undefined, { token });

    expect(read.status).toBe(200);
    expect(d1.sessionStarts).toEqual([written]);
    const profile = await json<{ hasCustomProfilePicture: boolean; profilePictureUrl: string }>(read);
    expect(profile.hasCustomProfilePicture).toBe(true);
    expect(profile.profilePictureUrl).toContain(`/uploads/${upload.id}/`);
    expect((read.headers.get(BOOKMARK) ?? "") >= (written ?? "")).toBe(true);
  });

  it.for([
    { name: "a word", value: "garbage" },
    { name: "a session constraint", value: "first-primary" },
    { name: "an empty value", value: "" },
    {
      name: "a bookmark in upper case",
      value: "00000085-0000024C-00004C6D-8E61117BF38D7ADB71B934EBBF891683",
    },
    {
      name: "a bookmark with one digit more",
      value: "00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf8916830",
    },
    { name: "SQL", value: "'; DROP TABLE users; --" },
    { name: "8 KB of it", value: "0".repeat(8192) },
  ])("ignores $name: the read starts anywhere, answers 200 and a real bookmark", async ({ value }) => {
    mockWorkOS();
    const { token } = await member();
    const d1 = countingD1(env.DB);

    const response = await callWith("/api/v1/users/me", d1, value, { token });

    expect(response.status).toBe(200);
    expect(d1.sessionStarts).toEqual(["first-unconstrained"]);
    expect(isBookmark(response.headers.get(BOOKMARK))).toBe(true);
  });

  it.for<{ name: string; status: number; code: string; request: (bookmark: string) => Promise<Response> }>([
    {
      name: "a refused token",
      status: 401,
      code: "unauthenticated",
      request: (bookmark) =>
        call("/api/v1/users/me", { token: "not-a-jwt", headers: { [BOOKMARK]: bookmark } }),
    },
    {
      name: "a body refused before any read",
      status: 422,
      code: "validation_error",
      request: async (bookmark) =>
        call("/api/v1/users/me/profile-picture", {
          method: "PATCH",
          token: (await member()).token,
          json: { uploadId: "nope" },
          headers: { [BOOKMARK]: bookmark },
        }),
    },
    {
      name: "a method the path does not serve",
      status: 405,
      code: "method_not_allowed",
      request: (bookmark) =>
        call("/api/v1/users/me", { method: "DELETE", headers: { [BOOKMARK]: bookmark } }),
    },
    {
      name: "an unknown path",
      status: 404,
      code: "not_found",
      request: (bookmark) => call("/api/v1/nope", { headers: { [BOOKMARK]: bookmark } }),
    },
    {
      name: "a broken configuration",
      status: 500,
      code: "internal_error",
      request: async (bookmark) => {
        vi.spyOn(console, "error").mockImplementation(() => {});
        return call("/api/v1/users/me", {
          token: (await member()).token,
          headers: { [BOOKMARK]: bookmark },
          env: { WORKOS_CLIENT_ID: "" },
        });
      },
    },
  ])(
    "answers $name ($status) with the bookmark it was sent, not having read D1",
    async ({ status, code, request }) => {
      mockWorkOS();
      const sent = await currentBookmark();
      const response = await request(sent);
      expect(response.status).toBe(status);
      expect((await json(response)).code).toBe(code);
      expect(response.headers.get(BOOKMARK)).toBe(sent);
    },
  );

  it("is on an error answered after reading D1: the latest bookmark, newer than the one sent", async () => {
    mockWorkOS();
    const sent = await currentBookmark();
    // A write after the bookmark: the session's read of the caller sees it, and answers its bookmark.
    const caller = await member();
    const response = await call(`/api/v1/shared/users/${crypto.randomUUID()}`, {
      token: caller.token,
      headers: { [BOOKMARK]: sent },
    });
    expect(response.status).toBe(404);
    const answered = response.headers.get(BOOKMARK) ?? "";
    expect(isBookmark(answered)).toBe(true);
    expect(answered > sent).toBe(true);
  });

  it("is empty when the request brought none and never reached D1", async () => {
    const response = await call("/api/v1/users/me");
    expect(response.status).toBe(401);
    expect(response.headers.get(BOOKMARK)).toBe("");
  });

  it("is on a 503 of D1, and the request wrote nothing", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    mockWorkOS();
    const sent = await currentBookmark();
    const { user, token } = await member();
    const upload = await createUpload(user);
    const faulty = faultyD1(env.DB, [{ sql: /^update "users"/i, message: LOST, times: 99 }]);
    const response = await callWith("/api/v1/users/me/profile-picture", faulty.db, sent, {
      method: "PATCH",
      token,
      json: { uploadId: upload.id },
    });
    expect(response.status).toBe(503);
    expect(response.headers.get(BOOKMARK)).toBe(sent);
    expect((await readUser(user.id))?.profilePictureUploadId).toBeNull();
  });
});
