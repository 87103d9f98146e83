import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type User, users } from "../src/db/schema";
import { decodeBase64urlText } from "../src/lib/base64url";
import { loadConfig } from "../src/lib/config";
import { THUMB_SIZES, thumbKeyFor } from "../src/lib/object-keys";
import {
  INITIALS_MEDIA_TYPE,
  INITIALS_RENDERER_VERSION,
  initialsOf,
  paletteIndexOf,
} from "../src/pictures/initials";
import { initialsImageName, readInitialsImageName } from "../src/pictures/initials-url";
import * as images from "./fixtures/images";
import { call, json } from "./helpers/api";
import { countingD1 } from "./helpers/counting-d1";
import { createUser, db } from "./helpers/db";
import { countingBucket } from "./helpers/hooked-r2";
import { consume, importMessage } from "./helpers/jobs";
import { tokenFor } from "./helpers/tokens";
import { emulated, imageInfo } from "./helpers/uploads";
import { mockWorkOS } from "./helpers/workos";
import { signWebhook, workosEvent, workosUserObject } from "./helpers/workos-users";

// WorkOS's JWKS (and, where a test says so, a picture host) at the fetch boundary.
beforeEach(() => mockWorkOS());
afterEach(() => vi.restoreAllMocks());

interface Profile {
  id: string;
  profilePictureUrl: string | null;
  hasCustomProfilePicture: boolean;
  avatarUrl: string;
  avatarSource: "custom" | "identity_provider" | "initials";
}

const INITIALS_URL = /^https:\/\/api\.test\/avatars\/initials\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}\.png$/;

/** A custom photo, sent in one call: real thumbnails in R2 (a 480x320 PNG). */
async function withCustomPhoto(user: User) {
  const response = await call("/api/v1/users/me/profile-picture", {
    method: "PUT",
    token: await tokenFor(user),
    body: images.png,
    headers: { "Content-Type": "image/png" },
  });
  expect(response.status).toBe(200);
  const row = await db().query.users.findFirst({ where: eq(users.id, user.id) });
  return row?.profilePictureUploadId as string;
}

async function withImport(user: User) {
  const url = `https://pictures.test/${crypto.randomUUID()}.jpg`;
  mockWorkOS({ "https://pictures.test/": () => new Response(images.jpeg) });
  await db().update(users).set({ workosProfilePictureUrl: url }).where(eq(users.id, user.id));
  await consume([importMessage(user, url)]);
  const row = await db().query.users.findFirst({ where: eq(users.id, user.id) });
  return row?.importedPictureUploadId as string;
}

const sources = [
  { source: "custom", prepare: withCustomPhoto },
  { source: "identity_provider", prepare: withImport },
  { source: "initials", prepare: async () => undefined },
] as const;

async function read(path: string, caller: User, options: { env?: Partial<Record<keyof Env, unknown>> } = {}) {
  const response = await call(path, { token: await tokenFor(caller), env: { ...emulated, ...options.env } });
  expect(response.status).toBe(200);
  return json<Profile>(response);
}

describe("avatarUrl and avatarSource", () => {
  it.for(sources)(
    "$source: the picture to draw, in every pictureSize, from the users row alone (1 D1 round trip, no R2 call)",
    async ({ source, prepare }) => {
      const user = await createUser();
      const uploadId = await prepare(user);
      for (const size of THUMB_SIZES) {
        const d1 = countingD1(env.DB);
        const bucket = countingBucket(env.BUCKET);
        const profile = await read(`/api/v1/users/me?pictureSize=${size}`, user, {
          env: { DB: d1, BUCKET: bucket },
        });
        expect(d1.roundTrips, `${size} px`).toBe(1);
        expect(bucket.calls, `${size} px`).toEqual([]);
        expect(profile.avatarSource).toBe(source);
        if (source === "custom") {
          expect(profile.avatarUrl).toBe(profile.profilePictureUrl);
          expect(profile.avatarUrl).toContain(`/${thumbKeyFor(uploadId as string, size)}?`);
        } else if (source === "identity_provider") {
          expect(profile.avatarUrl).toContain(`/${thumbKeyFor(uploadId as string, size)}?X-Amz-`);
          expect(profile.profilePictureUrl).not.toBe(profile.avatarUrl);
        } else {
          expect(profile.avatarUrl).toMatch(INITIALS_URL);
          expect(profile.profilePictureUrl).toBe(user.workosProfilePictureUrl);
        }
        expect(profile.hasCustomProfilePicture).toBe(source === "custom");
        // Every URL the API hands out draws an image of that size.
        const image = await call(profile.avatarUrl, { env: emulated });
        expect(image.status, `${size} px`).toBe(200);
        const side = source === "initials" ? size : Math.min(size, 320);
        expect(await imageInfo(await image.arrayBuffer()), `${size} px`).toMatchObject({
          width: side,
          height: side,
        });
      }
    },
  );

  it("is on every answer with profiles: the teammate's, the members list, both PATCHes and both PUTs", async () => {
    const admin = await createUser({ role: "admin" });
    const teammate = await createUser({ firstName: "Grace", lastName: "Hopper" });
    const token = await tokenFor(admin);
    const answers: [string, Response][] = [
      ["GET teammate", await call(`/api/v1/shared/users/${teammate.id}`, { token })],
      [
        "PATCH me",
        await call("/api/v1/users/me/profile-picture", { method: "PATCH", token, json: { uploadId: null } }),
      ],
      [
        "PATCH teammate",
        await call(`/api/v1/shared/users/${teammate.id}/profile-picture`, {
          method: "PATCH",
          token,
          json: { uploadId: null },
        }),
      ],
    ];
    for (const [name, response] of answers) {
      expect(response.status, name).toBe(200);
      expect(await json(response), name).toMatchObject({
        avatarSource: "initials",
        avatarUrl: expect.stringMatching(INITIALS_URL),
      });
    }
    for (const path of [
      "/api/v1/users/me/profile-picture",
      `/api/v1/shared/users/${teammate.id}/profile-picture`,
    ]) {
      const put = await call(path, {
        method: "PUT",
        token,
        body: images.png,
        headers: { "Content-Type": "image/png" },
      });
      expect(put.status, path).toBe(200);
      const profile = await json<Profile>(put);
      expect(profile).toMatchObject({ avatarSource: "custom", hasCustomProfilePicture: true });
      expect(profile.avatarUrl).toBe(profile.profilePictureUrl);
    }
    const page = await json<{ items: Profile[] }>(await call("/api/v1/shared/users?q=grace", { token }));
    expect(page.items.find((item) => item.id === teammate.id)).toMatchObject({ avatarSource: "custom" });
  });
});

describe("an initials avatar's URL", () => {
  it("stays the same while the initials do, changes when they change, and carries nothing else of the user", async () => {
    const user = await createUser({ firstName: "Ada", lastName: "Lovelace" });
    const first = await read("/api/v1/users/me", user);
    expect((await read("/api/v1/users/me", user)).avatarUrl).toBe(first.avatarUrl);

    const name = new URL(first.avatarUrl).pathname.split("/").at(-1) as string;
    const payload = JSON.parse(decodeBase64urlText(name.split(".")[0] as string));
    expect(payload).toEqual([INITIALS_RENDERER_VERSION, paletteIndexOf(user.id), 256, "AL"]);
    for (const secret of [
      user.id,
      user.workosUserId,
      user.email,
      "Ada",
      "Lovelace",
      user.email.split("@")[0],
    ]) {
      expect(first.avatarUrl).not.toContain(secret as string);
    }

    // WorkOS changes the email only: the initials, and so the URL, stay.
    await webhookUpdate(user, { first_name: "Ada", last_name: "Lovelace", email: `new-${user.email}` }, 1);
    expect((await read("/api/v1/users/me", user)).avatarUrl).toBe(first.avatarUrl);
    // The last name changes: another picture, another URL.
    await webhookUpdate(user, { first_name: "Ada", last_name: "Byron", email: `new-${user.email}` }, 2);
    const renamed = await read("/api/v1/users/me", user);
    expect(renamed.avatarUrl).not.toBe(first.avatarUrl);
    expect(renamed.avatarUrl).toMatch(INITIALS_URL);
  });

  it("is the same for two users with the same initials and colour: one image, drawn once", async () => {
    const first = await createUser({ firstName: "Zoe", lastName: "Quinn" });
    let id = crypto.randomUUID();
    while (paletteIndexOf(id) !== paletteIndexOf(first.id)) id = crypto.randomUUID();
    const second = await createUser({ id, firstName: "Zed", lastName: "Quist" });
    expect(initialsOf(second)).toBe(initialsOf(first));
    expect((await read("/api/v1/users/me", second)).avatarUrl).toBe(
      (await read("/api/v1/users/me", first)).avatarUrl,
    );
  });
});

/** A signed `user.updated` for `user`, `step` minutes into a fixed future so each is newer. */
async function webhookUpdate(user: User, changes: Record<string, unknown>, step: number) {
  const updatedAt = new Date(Date.now() + step * 60_000).toISOString();
  const body = JSON.stringify(
    workosEvent("user.updated", workosUserObject(user.workosUserId, { ...changes, updated_at: updatedAt })),
  );
  const response = await call("/webhooks/workos", {
    method: "POST",
    body,
    headers: { "Content-Type": "application/json", "WorkOS-Signature": await signWebhook(body) },
  });
  expect(response.status).toBe(200);
}

describe("GET /avatars/initials/{name}", () => {
  async function initialsUrl(size = 128) {
    const user = await createUser({ firstName: "Ada", lastName: "Lovelace" });
    return (await read(`/api/v1/users/me?pictureSize=${size}`, user)).avatarUrl;
  }

  it("answers the image, exactly the size asked, public and immutable, with no token and no database", async () => {
    const url = await initialsUrl(128);
    const d1 = countingD1(env.DB);
    const response = await call(url, { env: { DB: d1 } });
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toBe(INITIALS_MEDIA_TYPE);
    expect(response.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
    expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(response.headers.get("Cross-Origin-Resource-Policy")).toBe("cross-origin");
    expect(await imageInfo(await response.arrayBuffer())).toMatchObject({
      format: INITIALS_MEDIA_TYPE,
      width: 128,
      height: 128,
    });
    expect(d1.roundTrips).toBe(0);
  });

  it("is drawn once and kept in R2 with its Cache-Control; later requests read it, and If-None-Match gets 304", async () => {
    const url = await initialsUrl(64);
    const key = `avatars/initials/${new URL(url).pathname.split("/").at(-1)}`;
    const first = await call(url);
    const stored = await env.BUCKET.head(key);
    expect(stored?.httpMetadata).toEqual({
      contentType: INITIALS_MEDIA_TYPE,
      cacheControl: "public, max-age=31536000, immutable",
    });
    const bucket = countingBucket(env.BUCKET);
    const second = await call(url, { env: { BUCKET: bucket } });
    expect(bucket.calls).toEqual(["get"]);
    expect(new Uint8Array(await second.arrayBuffer())).toEqual(new Uint8Array(await first.arrayBuffer()));
    expect((await env.BUCKET.head(key))?.uploaded).toEqual(stored?.uploaded);
    const etag = second.headers.get("ETag") as string;
    const revalidated = await call(url, { headers: { "If-None-Match": etag } });
    expect(revalidated.status).toBe(304);
    expect(await revalidated.text()).toBe("");
    expect(revalidated.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
  });

  it.for([
    {
      name: "a name edited by one character",
      edit: (name: string) => name.replace(/^./, (c) => (c === "A" ? "B" : "A")),
    },
    { name: "a MAC cut short", edit: (name: string) => name.replace(/\.[A-Za-z0-9_-]{43}\./, ".abc.") },
    { name: "another extension", edit: (name: string) => name.replace(/\.png$/, ".gif") },
    { name: "a path", edit: () => "..%2F..%2Fhealthz" },
    { name: "10 KB", edit: () => `${"A".repeat(10_000)}.png` },
  ])("refuses $name with 404, drawing and storing nothing", async ({ edit }) => {
    const url = new URL(await initialsUrl());
    const name = url.pathname.split("/").at(-1) as string;
    const bucket = countingBucket(env.BUCKET);
    const response = await call(`${url.origin}/avatars/initials/${edit(name)}`, { env: { BUCKET: bucket } });
    expect([404, 422]).toContain(response.status);
    expect((await json(response)).code).toMatch(/^(not_found|validation_error)$/);
    expect(bucket.calls).toEqual([]);
  });

  it("refuses a name signed with another secret: rotating the R2 secret changes every URL", async () => {
    const url = await initialsUrl();
    const response = await call(url, { env: { R2_SECRET_ACCESS_KEY: "another-secret" } });
    expect(response.status).toBe(404);
  });

  it("signs a name again after the secret rotates, and again when it rotates back: nothing cached outlives its secret", async () => {
    const image = { initials: "AL", paletteIndex: 3, size: 128 } as const;
    const first = await initialsImageName(loadConfig(env), image);
    const rotated = await initialsImageName(
      loadConfig({ ...env, R2_SECRET_ACCESS_KEY: "another-secret" }),
      image,
    );
    const back = await initialsImageName(loadConfig(env), image);
    expect(rotated).not.toBe(first);
    expect(back).toBe(first);
    const rotatedConfig = loadConfig({ ...env, R2_SECRET_ACCESS_KEY: "another-secret" });
    expect(await readInitialsImageName(rotatedConfig, rotated)).toEqual(image);
    expect(await readInitialsImageName(loadConfig(env), rotated)).toBeUndefined();
  });
});
