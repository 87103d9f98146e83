import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type Upload, type User, users } from "../src/db/schema";
import * as images from "./fixtures/images";
import { call, json } from "./helpers/api";
import { countingD1 } from "./helpers/counting-d1";
import { createUpload, createUser, db, readUser } from "./helpers/db";
import { expectUnchanged, expectValidationErrorAt } from "./helpers/refusals";
import { tokenFor } from "./helpers/tokens";
import { emulated, imageInfo, uploadThroughApi } from "./helpers/uploads";
import { mockWorkOS } from "./helpers/workos";

beforeEach(() => {
  mockWorkOS();
});
afterEach(() => {
  vi.restoreAllMocks();
});

interface Profile {
  id: string;
  profilePictureUrl: string | null;
  hasCustomProfilePicture: boolean;
}

/** `path` with `pictureSize` in its query, or without one. */
const withSize = (path: string, size: string | undefined) =>
  size === undefined
    ? path
    : `${path}${path.includes("?") ? "&" : "?"}pictureSize=${encodeURIComponent(size)}`;

/**
 * Each route that answers UserProfiles, asked by `user` about themself with `size`, and how to find
 * their profile in its answer. The PATCHes set the photo the user already has: nothing changes.
 */
const routes: {
  name: string;
  send: (user: User, size: string | undefined, d1?: D1Database) => Promise<Response>;
  profileIn: (body: unknown, user: User) => Profile | undefined;
}[] = [
  {
    name: "GET /api/v1/users/me",
    send: async (user, size, d1) =>
      call(withSize("/api/v1/users/me", size), { token: await tokenFor(user), env: d1 && { DB: d1 } }),
    profileIn: (body) => body as Profile,
  },
  {
    name: "GET /api/v1/shared/users/{user_id}",
    send: async (user, size, d1) =>
      call(withSize(`/api/v1/shared/users/${user.id}`, size), {
        token: await tokenFor(user),
        env: d1 && { DB: d1 },
      }),
    profileIn: (body) => body as Profile,
  },
  {
    name: "GET /api/v1/shared/users",
    send: async (user, size, d1) =>
      call(withSize(`/api/v1/shared/users?q=${encodeURIComponent(user.email)}`, size), {
        token: await tokenFor(user),
        env: d1 && { DB: d1 },
      }),
    profileIn: (body, user) => (body as { items: Profile[] }).items.find((item) => item.id === user.id),
  },
  {
    name: "PATCH /api/v1/users/me/profile-picture",
    send: async (user, size, d1) =>
      call(withSize("/api/v1/users/me/profile-picture", size), {
        method: "PATCH",
        token: await tokenFor(user),
        json: { uploadId: user.profilePictureUploadId },
        env: d1 && { DB: d1 },
      }),
    profileIn: (body) => body as Profile,
  },
  {
    name: "PATCH /api/v1/shared/users/{user_id}/profile-picture",
    send: async (user, size, d1) =>
      call(withSize(`/api/v1/shared/users/${user.id}/profile-picture`, size), {
        method: "PATCH",
        token: await tokenFor(user),
        json: { uploadId: user.profilePictureUploadId },
        env: d1 && { DB: d1 },
      }),
    profileIn: (body) => body as Profile,
  },
];

/** A user whose custom photo is `photo` of theirs, attached the way the PATCH attaches it. */
async function userWithPhoto(photo: (owner: User) => Promise<Upload>): Promise<User> {
  const user = await createUser();
  const upload = await photo(user);
  const response = await call("/api/v1/users/me/profile-picture", {
    method: "PATCH",
    token: await tokenFor(user),
    json: { uploadId: upload.id },
  });
  expect(response.status).toBe(200);
  return (await readUser(user.id)) as User;
}

/** The thumbnail key a presigned profile picture URL names. */
const thumbnailIn = (profile: Profile | undefined) =>
  new URL(profile?.profilePictureUrl ?? "https://no.url/").pathname.replace("/profile-pictures/", "");

describe("pictureSize: which thumbnail profilePictureUrl presigns", () => {
  it.for(
    routes.flatMap((route) =>
      [undefined, "64", "128", "256", "512"].map((size) => ({ ...route, size, shown: size ?? "256" })),
    ),
  )(
    "$name with pictureSize $size presigns the $shown px thumbnail",
    async ({ send, profileIn, size, shown }) => {
      const user = await userWithPhoto((owner) => createUpload(owner));
      const response = await send(user, size);
      expect(response.status).toBe(200);
      const profile = profileIn(await json(response), user);
      expect(thumbnailIn(profile)).toBe(`uploads/${user.profilePictureUploadId}/thumb-${shown}.webp`);
    },
  );

  it("copies the upload's sizes onto the user with the photo, and drops them with it", async () => {
    const user = await userWithPhoto((owner) => createUpload(owner));
    expect(user.profilePictureThumbSizes).toEqual([64, 128, 256, 512]);
    const token = await tokenFor(user);
    await call("/api/v1/users/me/profile-picture", { method: "PATCH", token, json: { uploadId: null } });
    expect((await readUser(user.id))?.profilePictureThumbSizes).toBeNull();
  });

  it.for(routes.flatMap((route) => ["64", "128", "512"].map((size) => ({ ...route, size }))))(
    "$name falls back to the 256 px thumbnail for pictureSize $size of a photo from before there were sizes",
    async ({ send, profileIn, size }) => {
      // Completed before this change: its row names the 256 px thumbnail only.
      const user = await userWithPhoto((owner) => createUpload(owner, { thumbSizes: null }));
      expect(user.profilePictureThumbSizes).toBeNull();
      const response = await send(user, size);
      expect(response.status).toBe(200);
      expect(thumbnailIn(profileIn(await json(response), user))).toBe(
        `uploads/${user.profilePictureUploadId}/thumb-256.webp`,
      );
    },
  );

  it("falls back for a user whose photo was set before the sizes were recorded on the users row", async () => {
    const user = await createUser();
    const upload = await createUpload(user, { thumbSizes: null });
    // What the migration leaves: the photo attached, no sizes on the row.
    await db().update(users).set({ profilePictureUploadId: upload.id }).where(eq(users.id, user.id));
    const response = await call("/api/v1/users/me?pictureSize=64", { token: await tokenFor(user) });
    expect(thumbnailIn(await json<Profile>(response))).toBe(`uploads/${upload.id}/thumb-256.webp`);
  });

  it.for(
    routes.flatMap((route) =>
      ["32", "1024", "abc", "", "256.0", " 64", "0x40", "-64"].map((size) => ({ ...route, size })),
    ),
  )(
    "$name answers 422 at query.pictureSize for pictureSize '$size', writing nothing",
    async ({ send, size }) => {
      const user = await userWithPhoto((owner) => createUpload(owner));
      // The PATCHes would set another photo, were the request not refused.
      const other = await createUpload(user);
      const refused = await send({ ...user, profilePictureUploadId: other.id }, size);
      await expectValidationErrorAt(refused, ["query", "pictureSize"]);
      await expectUnchanged(user);
    },
  );

  it.for(routes)("$name still makes 1 D1 round trip with a pictureSize", async ({ send }) => {
    const user = await userWithPhoto((owner) => createUpload(owner));
    const d1 = countingD1(env.DB);
    const response = await send(user, "64", d1);
    expect(response.status).toBe(200);
    expect(d1.roundTrips).toBe(1);
  });
});

describe("pictureSize with an upload made through the API", () => {
  /** The image a presigned URL serves, through the S3 emulation. */
  const served = async (url: string) => {
    const response = await call(url, { env: emulated });
    expect(response.status).toBe(200);
    return imageInfo(await response.arrayBuffer());
  };

  it.for([
    { size: "64", side: 64 },
    { size: "128", side: 128 },
    { size: "256", side: 256 },
    // The JPEG is 320x480: the 512 px thumbnail is never enlarged past its shorter side.
    { size: "512", side: 320 },
  ])("serves a $side px square WebP for pictureSize $size", async ({ size, side }) => {
    const user = await createUser();
    const token = await tokenFor(user);
    const { started } = await uploadThroughApi(token, images.jpeg, { contentType: "image/jpeg" });
    const set = await call(`/api/v1/users/me/profile-picture?pictureSize=${size}`, {
      method: "PATCH",
      token,
      json: { uploadId: started.upload.id },
      env: emulated,
    });
    const url = (await json<Profile>(set)).profilePictureUrl as string;
    expect(await served(url)).toMatchObject({ format: "image/webp", width: side, height: side });
    const me = await call(`/api/v1/users/me?pictureSize=${size}`, { token, env: emulated });
    expect((await json<Profile>(me)).profilePictureUrl).toBe(url);
  });
});
