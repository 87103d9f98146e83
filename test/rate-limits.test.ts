import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { uploads as uploadsTable } from "../src/db/schema";
import * as images from "./fixtures/images";
import { call, json } from "./helpers/api";
import { createUpload, createUser, db, readUpload, readUser } from "./helpers/db";
import { signToken } from "./helpers/tokens";
import { countUploads } from "./helpers/uploads";
import { mockWorkOS } from "./helpers/workos";

afterEach(() => vi.restoreAllMocks());

/**
 * The local limiter counts in windows aligned to the wall clock (each minute, for a 60 s period),
 * so a test that crosses a minute boundary gets a fresh budget midway and sees no 429. Start each
 * test with enough of the window left that it cannot cross one.
 */
const WINDOW_MS = 60_000;
const MARGIN_MS = 15_000;
beforeEach(async () => {
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < MARGIN_MS) await new Promise((resolve) => setTimeout(resolve, left + 50));
}, MARGIN_MS + 5_000);

const tight = { WRITE_LIMITER: env.TIGHT_LIMITER, IP_LIMITER: env.TIGHT_LIMITER };
const uniqueIp = () => `198.51.100.${Math.floor(Math.random() * 250)}-${crypto.randomUUID()}`;

async function expectRateLimited(res: Response) {
  expect(res.status).toBe(429);
  expect(res.headers.get("Retry-After")).toBe("60");
  expect(await json(res)).toEqual({ detail: expect.any(String), code: "rate_limited" });
}

describe("rate limits", () => {
  it("case 44: limits profile-picture writes per caller, with 429 and Retry-After, and applies nothing over the limit", async () => {
    mockWorkOS();
    const user = await createUser();
    const [first, second] = [await createUpload(user), await createUpload(user)];
    const token = await signToken({ sub: user.workosUserId });
    const patch = (uploadId: string | null) =>
      call("/api/v1/users/me/profile-picture", { method: "PATCH", token, json: { uploadId }, env: tight });

    const statuses = [];
    for (const uploadId of [first.id, null, first.id]) statuses.push((await patch(uploadId)).status);
    expect(statuses).toEqual([200, 200, 200]);
    const set = await readUser(user.id);
    expect(set?.profilePictureUploadId).toBe(first.id);
    await expectRateLimited(await patch(second.id));
    // The budget is the caller's, whatever the write: starting an upload is refused too.
    const create = await call("/api/v1/uploads", {
      method: "POST",
      token,
      json: { kind: "image", scope: "profile_picture", contentType: "image/png", size: 100 },
      env: tight,
    });
    await expectRateLimited(create);
    expect(await readUser(user.id)).toEqual(set);
    expect(await readUpload(second.id)).toEqual(second);
    expect(await countUploads(user.id)).toBe(2);

    // Another caller has a budget of their own.
    const other = await createUser();
    const otherToken = await signToken({ sub: other.workosUserId });
    const res = await call("/api/v1/users/me/profile-picture", {
      method: "PATCH",
      token: otherToken,
      json: { uploadId: null },
      env: tight,
    });
    expect(res.status).toBe(200);
  });

  it("case 44: counts the one-call PUT as a write, refusing it over the limit before a byte is stored", async () => {
    mockWorkOS();
    const user = await createUser();
    const token = await signToken({ sub: user.workosUserId });
    const put = () =>
      call("/api/v1/users/me/profile-picture", {
        method: "PUT",
        token,
        body: images.png,
        headers: { "Content-Type": "image/png" },
        env: tight,
      });
    expect((await put()).status).toBe(200);
    // Writes of any kind share the caller's budget (3 here): two PATCHes use up the rest.
    for (let i = 0; i < 2; i++) {
      const patched = await call("/api/v1/users/me/profile-picture", {
        method: "PATCH",
        token,
        json: { uploadId: null },
        env: tight,
      });
      expect(patched.status).toBe(200);
    }
    const before = await readUser(user.id);

    await expectRateLimited(await put());

    expect(await readUser(user.id)).toEqual(before);
    expect(await countUploads(user.id)).toBe(1);
  });

  it("case 44: limits failed authentications per client IP", async () => {
    mockWorkOS();
    const ip = uniqueIp();
    const attempt = () =>
      call("/api/v1/users/me", { token: "not.a.token", headers: { "CF-Connecting-IP": ip }, env: tight });
    for (let i = 0; i < 3; i++) expect((await attempt()).status).toBe(401);
    await expectRateLimited(await attempt());

    // A valid token from another address is unaffected.
    const user = await createUser();
    const ok = await call("/api/v1/users/me", {
      token: await signToken({ sub: user.workosUserId }),
      headers: { "CF-Connecting-IP": uniqueIp() },
      env: tight,
    });
    expect(ok.status).toBe(200);
  });

  it("case 44: limits webhook deliveries per client IP", async () => {
    const ip = uniqueIp();
    const deliver = () =>
      call("/webhooks/workos", {
        method: "POST",
        body: "{}",
        headers: {
          "Content-Type": "application/json",
          "CF-Connecting-IP": ip,
          "WorkOS-Signature": "t=1, v1=00",
        },
        env: tight,
      });
    for (let i = 0; i < 3; i++) expect((await deliver()).status).toBe(401);
    await expectRateLimited(await deliver());
  });

  it("never throttles local development: its limiters allow 100,000 a minute", async () => {
    mockWorkOS();
    const user = await createUser();
    const token = await signToken({ sub: user.workosUserId });
    const results = await Promise.all(
      Array.from({ length: 40 }, () =>
        call("/api/v1/users/me/profile-picture", { method: "PATCH", token, json: { uploadId: null } }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
  });
});

describe("rate limits on uploads", () => {
  it("case 44: limits upload creation and completion per caller", async () => {
    mockWorkOS();
    const user = await createUser();
    const token = await signToken({ sub: user.workosUserId });
    const create = () =>
      call("/api/v1/uploads", {
        method: "POST",
        token,
        json: { kind: "image", scope: "profile_picture", contentType: "image/png", size: 100 },
        env: tight,
      });
    const created = await create();
    expect(created.status).toBe(201);
    const { upload } = await json<{ upload: { id: string } }>(created);
    const complete = () =>
      call(`/api/v1/uploads/${upload.id}/complete`, { method: "POST", token, env: tight });
    expect((await complete()).status).toBe(409);
    expect((await create()).status).toBe(201);
    await expectRateLimited(await create());
    await expectRateLimited(await complete());
    const uploads = await db().query.uploads.findMany({ where: eq(uploadsTable.ownerId, user.id) });
    expect(uploads).toHaveLength(2);
  });
});
