import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type User, uploads, users } from "../src/db/schema";
import { enqueueBacklog } from "../src/jobs/backlog";
import { JOB_MAX_ATTEMPTS, MAX_RETRY_DELAY_SECONDS, retryDelaySeconds } from "../src/jobs/queue-consumer";
import { cleanUpStorage } from "../src/jobs/storage-cleanup";
import { THUMB_SIZES, thumbKeyFor } from "../src/lib/object-keys";
import { fetchRemotePicture, ImportFailure } from "../src/pictures/remote-picture";
import * as images from "./fixtures/images";
import { call, json } from "./helpers/api";
import { createUpload, createUser, db, readUser } from "./helpers/db";
import { PRODUCTION } from "./helpers/environments";
import { bucketChangedBefore } from "./helpers/hooked-r2";
import {
  captureLogs,
  consume,
  DEAD_LETTER_QUEUE,
  eventually,
  importMessage,
  queueDown,
} from "./helpers/jobs";
import { signToken } from "./helpers/tokens";
import { emulated, imageInfo } from "./helpers/uploads";
import { mockWorkOS, WORKOS_API_URL } from "./helpers/workos";
import { newWorkOSUserId, signWebhook, workosEvent, workosUserObject } from "./helpers/workos-users";

afterEach(() => vi.restoreAllMocks());

const PICTURES = "https://pictures.test/";
const pictureUrl = (name = crypto.randomUUID()) => `${PICTURES}${name}.jpg`;

type Responder = (request: Request) => Response | Promise<Response>;

/** The picture host answers with `responder` (a JPEG by default); WorkOS's API and JWKS as usual. */
function pictureHost(responder: Responder = () => jpegResponse()) {
  return mockWorkOS({ [PICTURES]: responder });
}

const jpegResponse = () =>
  new Response(images.jpeg, { headers: { "content-type": "image/jpeg", "content-length": "1314" } });

async function userWithPicture(url = pictureUrl(), overrides: Partial<User> = {}) {
  return createUser({ workosProfilePictureUrl: url, ...overrides });
}

const uploadsOf = (user: User) => db().select().from(uploads).where(eq(uploads.ownerId, user.id));

async function me(user: User, query = "") {
  const response = await call(`/api/v1/users/me${query}`, {
    token: await signToken({ sub: user.workosUserId, org_id: "org_acme" }),
    env: emulated,
  });
  expect(response.status).toBe(200);
  return json<{
    profilePictureUrl: string | null;
    hasCustomProfilePicture: boolean;
    avatarUrl: string;
    avatarSource: string;
  }>(response);
}

/** Nothing of an import was kept: no upload row, and the user is left with initials. */
async function expectNothingImported(user: User, url: string) {
  expect(await uploadsOf(user)).toEqual([]);
  expect(await readUser(user.id)).toMatchObject({ importedPictureUploadId: null, pictureImportUrl: url });
  expect((await me(user)).avatarSource).toBe("initials");
}

describe("importing the WorkOS picture (the queue's consumer)", () => {
  it("makes it an upload of the user's, marked as an import, in four WebP sizes stored with their Cache-Control, shown as the avatar", async () => {
    const host = pictureHost();
    const url = pictureUrl();
    const user = await userWithPicture(url);
    const before = (await readUser(user.id)) as User;

    const result = await consume([importMessage(user, url)]);

    expect(result.explicitAcks).toEqual(result.ids);
    expect(result.retryMessages).toEqual([]);
    expect(host.count(url)).toBe(1);
    const [upload, ...others] = await uploadsOf(user);
    expect(others).toEqual([]);
    expect(upload).toMatchObject({
      origin: "import",
      ownerId: user.id,
      scope: "profile_picture",
      kind: "image",
      state: "ready",
      contentType: "image/jpeg",
      size: images.jpeg.byteLength,
      thumbSizes: [...THUMB_SIZES],
    });
    const after = (await readUser(user.id)) as User;
    expect(after).toMatchObject({
      importedPictureUploadId: upload?.id,
      pictureImportUrl: url,
      profilePictureUploadId: null,
      workosProfilePictureUrl: url,
    });
    // What the profile shows changed: its version moves (ETag, If-Match).
    expect(after.updatedAt.getTime()).toBeGreaterThan(before.updatedAt.getTime());
    for (const size of THUMB_SIZES) {
      const stored = await env.BUCKET.get(thumbKeyFor(upload?.id as string, size));
      expect(stored?.httpMetadata).toEqual({
        contentType: "image/webp",
        cacheControl: "private, max-age=3600, immutable",
      });
      const side = Math.min(size, 320); // the JPEG is 320x480
      expect(await imageInfo(await (stored as R2ObjectBody).arrayBuffer())).toMatchObject({
        format: "image/webp",
        width: side,
        height: side,
      });
    }
  });

  it("is what avatarUrl shows, in the size asked for, while profilePictureUrl and hasCustomProfilePicture keep the seed's meaning", async () => {
    pictureHost();
    const url = pictureUrl();
    const user = await userWithPicture(url);
    await consume([importMessage(user, url)]);
    const [upload] = await uploadsOf(user);

    const profile = await me(user, "?pictureSize=64");
    expect(profile).toMatchObject({
      profilePictureUrl: url,
      hasCustomProfilePicture: false,
      avatarSource: "identity_provider",
    });
    expect(profile.avatarUrl).toContain(`/${thumbKeyFor(upload?.id as string, 64)}?`);
    const image = await call(profile.avatarUrl, { env: emulated });
    expect(image.status).toBe(200);
    expect(image.headers.get("Cache-Control")).toBe("private, max-age=3600, immutable");
    expect(await imageInfo(await image.arrayBuffer())).toMatchObject({ format: "image/webp", width: 64 });
  });

  it("never touches the custom photo: with one set, it stays the avatar", async () => {
    pictureHost();
    const url = pictureUrl();
    const user = await userWithPicture(url);
    const custom = await createUpload(user);
    await db().update(users).set({ profilePictureUploadId: custom.id }).where(eq(users.id, user.id));

    await consume([importMessage(user, url)]);

    const profile = await me(user);
    expect(profile).toMatchObject({ hasCustomProfilePicture: true, avatarSource: "custom" });
    expect(profile.avatarUrl).toBe(profile.profilePictureUrl);
    expect(profile.avatarUrl).toContain(`/${thumbKeyFor(custom.id, 256)}?`);
    expect(await readUser(user.id)).toMatchObject({ profilePictureUploadId: custom.id });
  });

  it("case 48: does nothing and fetches nothing for the same URL again, a URL the user no longer has, or a deleted user", async () => {
    const host = pictureHost();
    const url = pictureUrl();
    const imported = await userWithPicture(url);
    await consume([importMessage(imported, url)]);
    const moved = await userWithPicture(pictureUrl());
    const deleted = await userWithPicture(url.replace(".jpg", "-deleted.jpg"), { state: "deleted" });
    const fetchesBefore = host.requests.length;

    const result = await consume([
      importMessage(imported, url),
      importMessage(moved, url),
      importMessage(deleted, url.replace(".jpg", "-deleted.jpg")),
    ]);

    expect(result.explicitAcks).toEqual(result.ids);
    expect(host.requests.length).toBe(fetchesBefore);
    expect(await uploadsOf(imported)).toHaveLength(1);
    expect(await uploadsOf(moved)).toEqual([]);
    expect(await uploadsOf(deleted)).toEqual([]);
    expect(await readUser(moved.id)).toMatchObject({ pictureImportUrl: null, importedPictureUploadId: null });
  });

  it("case 48: imports once when one message is delivered twice in a batch", async () => {
    const host = pictureHost();
    const url = pictureUrl();
    const user = await userWithPicture(url);
    const result = await consume([importMessage(user, url), importMessage(user, url)]);
    expect(result.explicitAcks).toEqual(result.ids);
    expect(host.count(url)).toBe(1);
    expect(await uploadsOf(user)).toHaveLength(1);
  });

  it("follows up to 3 redirects, checking each hop", async () => {
    const host = pictureHost((request) => {
      const hop = Number(new URL(request.url).searchParams.get("hop") ?? "0");
      if (hop < 3) return Response.redirect(`${PICTURES}r.jpg?hop=${hop + 1}`, 302);
      return jpegResponse();
    });
    const url = `${PICTURES}r.jpg?hop=0`;
    const user = await userWithPicture(url);
    await consume([importMessage(user, url)]);
    expect(host.requests.length).toBe(4);
    expect(await readUser(user.id)).toMatchObject({ pictureImportUrl: url });
    expect((await me(user)).avatarSource).toBe("identity_provider");
  });

  it("fetches http: on loopback in the development configuration (npm run dev's WorkOS stand-in)", async () => {
    const url = "http://127.0.0.1:8788/pictures/user_dev.jpg";
    const host = mockWorkOS({ "http://127.0.0.1:8788/": () => jpegResponse() });
    const user = await userWithPicture(url);
    await consume([importMessage(user, url)]);
    expect(host.count(url)).toBe(1);
    expect((await me(user)).avatarSource).toBe("identity_provider");
  });
});

describe("case 47: a picture that cannot be imported", () => {
  /** Each refused for good: acknowledged, not retried, dead-lettered with its reason, nothing stored. */
  const refusals: {
    name: string;
    url?: string;
    env?: Record<string, string>;
    responder?: Responder;
    fetches: number;
    reason: RegExp;
  }[] = [
    {
      name: "an http: URL in production",
      url: "http://pictures.test/a.jpg",
      env: PRODUCTION,
      fetches: 0,
      reason: /http, not https/,
    },
    {
      name: "http: on loopback in production",
      url: "http://127.0.0.1:8788/a.jpg",
      env: PRODUCTION,
      fetches: 0,
      reason: /http, not https/,
    },
    {
      name: "an address rather than a host name, in production",
      url: "https://10.0.0.7/a.jpg",
      env: PRODUCTION,
      fetches: 0,
      reason: /public host/,
    },
    {
      name: "https: to localhost in production",
      url: "https://localhost/a.jpg",
      env: PRODUCTION,
      fetches: 0,
      reason: /public host/,
    },
    {
      name: "https: to a *.localhost name in production",
      url: "https://a.localhost/a.jpg",
      env: PRODUCTION,
      fetches: 0,
      reason: /public host/,
    },
    {
      name: "credentials in the URL",
      url: "https://user:secret@pictures.test/a.jpg",
      fetches: 0,
      reason: /credentials/,
    },
    {
      name: "a redirect loop",
      responder: (request) => Response.redirect(request.url, 302),
      fetches: 4,
      reason: /more than 3 times/,
    },
    {
      name: "a redirect to http: in production",
      env: PRODUCTION,
      responder: () => Response.redirect("http://pictures.test/plain.jpg", 301),
      fetches: 1,
      reason: /http, not https/,
    },
    {
      name: "HTML served as an image",
      responder: () =>
        new Response("<!doctype html><p>Sign in</p>", { headers: { "content-type": "image/jpeg" } }),
      fetches: 1,
      reason: /not an image/,
    },
    {
      name: "text",
      responder: () => new Response("just some text", { headers: { "content-type": "text/plain" } }),
      fetches: 1,
      reason: /not an image/,
    },
    {
      name: "a 404",
      responder: () => new Response("gone", { status: 404 }),
      fetches: 1,
      reason: /answered 404/,
    },
    {
      name: "a Content-Length over 10 MB",
      responder: () =>
        new Response(new ReadableStream({ start: (controller) => controller.close() }), {
          headers: { "content-type": "image/jpeg", "content-length": String(11 * 1024 * 1024) },
        }),
      fetches: 1,
      reason: /larger than 10485760 bytes/,
    },
    {
      name: "bytes that start like a PNG but do not decode",
      responder: () =>
        new Response(new Uint8Array([...images.png.subarray(0, 64), ...new Uint8Array(200).fill(9)])),
      fetches: 1,
      reason: /could not be decoded|no pixel dimensions/,
    },
  ];

  it.for(refusals)(
    "refuses $name: no retry, dead-lettered once with its reason, nothing stored, initials",
    async ({ url = pictureUrl(), env: settings, responder, fetches, reason }) => {
      const host = pictureHost(responder ?? (() => jpegResponse()));
      const logs = captureLogs();
      const user = await userWithPicture(url);
      const written: string[] = [];
      const bucket = bucketChangedBefore(env.BUCKET, "put", async (key) => {
        written.push(key);
      });

      const result = await consume([importMessage(user, url)], { env: { ...settings, BUCKET: bucket } });

      expect(result.explicitAcks).toEqual(result.ids);
      expect(result.retryMessages).toEqual([]);
      expect(host.requests.filter((request) => !request.url.includes("jwks")).length).toBe(fetches);
      const deadLettered = logs.filter((line) => line.outcome === "dead-lettered");
      expect(deadLettered).toEqual([
        expect.objectContaining({
          kind: "permanent",
          messageId: result.ids[0],
          reason: expect.stringMatching(reason),
        }),
      ]);
      // The URL never reaches a log line: it can be a capability.
      expect(JSON.stringify(logs)).not.toContain(url);
      await expectNothingImported(user, url);
      // Whatever was stored on the way (the bytes that do not decode were) is gone again.
      for (const key of written) expect(await env.BUCKET.head(key), key).toBeNull();

      // Delivered again (or enqueued again by the hourly job): nothing is fetched, nothing retried.
      const again = await consume([importMessage(user, url)]);
      expect(again.explicitAcks).toEqual(again.ids);
      expect(host.requests.filter((request) => !request.url.includes("jwks")).length).toBe(fetches);
      const { imports } = await enqueueBacklog(env, { maxImports: 0 });
      expect(imports).toBe(0);
    },
  );

  it("refuses a body over 10 MB while it streams, without reading the rest", async () => {
    const MiB = 1024 * 1024;
    let pulled = 0;
    pictureHost(
      () =>
        new Response(
          new ReadableStream<Uint8Array>({
            pull(controller) {
              pulled++;
              if (pulled > 64) return controller.close();
              controller.enqueue(new Uint8Array(MiB / 4).fill(0xff));
            },
          }),
          { headers: { "content-type": "image/jpeg" } },
        ),
    );
    const url = pictureUrl();
    const user = await userWithPicture(url);
    const result = await consume([importMessage(user, url)]);
    expect(result.retryMessages).toEqual([]);
    // 10 MiB is 40 chunks of 256 KiB: the 41st passes the limit, and the stream is cancelled there.
    expect(pulled).toBeLessThanOrEqual(43);
    await expectNothingImported(user, url);
  });

  it("gives up on a server that stalls, after the time limit, as a failure worth another try", async () => {
    const host = pictureHost(() => new Promise<Response>(() => {}));
    const started = Date.now();
    const failure = await fetchRemotePicture(pictureUrl(), {
      allowLoopbackHttp: false,
      timeoutMs: 300,
      maxRedirects: 3,
      maxBytes: 10,
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ImportFailure);
    expect(failure).toMatchObject({
      permanent: false,
      reason: expect.stringMatching(/did not answer within/),
    });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(host.requests).toHaveLength(1);
  });

  it.for([
    { name: "a 503", responder: () => new Response("busy", { status: 503 }), attempts: 1, delay: 5 },
    {
      name: "a 500 on the third try",
      responder: () => new Response("oops", { status: 500 }),
      attempts: 3,
      delay: 20,
    },
    {
      name: "a 429 with Retry-After: 120",
      responder: () => new Response("slow down", { status: 429, headers: { "retry-after": "120" } }),
      attempts: 1,
      delay: 120,
    },
    {
      name: "a network error",
      responder: () => Promise.reject(new TypeError("Network connection lost.")),
      attempts: 2,
      delay: 10,
    },
    {
      name: "a timeout",
      responder: () => Promise.reject(new DOMException("The operation timed out.", "TimeoutError")),
      attempts: 1,
      delay: 5,
    },
  ])(
    "retries $name with a growing delay, the first within 10 s, keeping nothing meanwhile",
    async ({ responder, attempts, delay }) => {
      pictureHost(responder);
      const url = pictureUrl();
      const user = await userWithPicture(url);
      const result = await consume([importMessage(user, url)], { attempts });
      expect(result.explicitAcks).toEqual([]);
      expect(result.retryMessages).toEqual([{ msgId: result.ids[0] }]);
      expect(result.retries).toEqual([{ msgId: result.ids[0], delaySeconds: delay }]);
      expect(await uploadsOf(user)).toEqual([]);
      // Still due: the retry (or the hourly job) will try it.
      expect(await readUser(user.id)).toMatchObject({
        pictureImportUrl: null,
        importedPictureUploadId: null,
      });
    },
  );

  it("dead-letters a message still failing on its last try, with its reason, and tries it no more", async () => {
    pictureHost(() => new Response("busy", { status: 503 }));
    const logs = captureLogs();
    const url = pictureUrl();
    const user = await userWithPicture(url);
    const result = await consume([importMessage(user, url)], { attempts: JOB_MAX_ATTEMPTS });
    expect(result.explicitAcks).toEqual(result.ids);
    expect(result.retryMessages).toEqual([]);
    expect(logs).toContainEqual(
      expect.objectContaining({
        outcome: "dead-lettered",
        kind: "exhausted",
        reason: expect.stringMatching(/503/),
      }),
    );
    await expectNothingImported(user, url);
  });
});

describe("the dead-letter queue's consumer", () => {
  it("logs each letter with its message id and reason, records the import given up, and acknowledges it", async () => {
    const logs = captureLogs();
    const url = pictureUrl();
    const user = await userWithPicture(url);
    const letter = {
      message: importMessage(user, url),
      reason: "The picture's server answered 503.",
      attempts: 10,
      kind: "exhausted",
    };
    const result = await consume([letter], { queue: DEAD_LETTER_QUEUE });
    expect(result.explicitAcks).toEqual(result.ids);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: "error",
        msg: "dead letter",
        messageId: result.ids[0],
        type: "import_picture",
        workosUserId: user.workosUserId,
        reason: letter.reason,
      }),
    );
    expect(await readUser(user.id)).toMatchObject({ pictureImportUrl: url });
  });

  it("gives up a message the platform moved there bare (the consumer failed on every delivery)", async () => {
    const logs = captureLogs();
    const url = pictureUrl();
    const user = await userWithPicture(url);
    const result = await consume([importMessage(user, url)], { queue: DEAD_LETTER_QUEUE });
    expect(result.explicitAcks).toEqual(result.ids);
    expect(logs).toContainEqual(
      expect.objectContaining({ msg: "dead letter", reason: "the consumer failed on every delivery" }),
    );
    expect(await readUser(user.id)).toMatchObject({ pictureImportUrl: url });
  });

  it("logs and acknowledges what is no message of this worker's", async () => {
    const logs = captureLogs();
    const result = await consume([{ hello: "world" }], { queue: DEAD_LETTER_QUEUE });
    expect(result.explicitAcks).toEqual(result.ids);
    expect(logs).toContainEqual(expect.objectContaining({ msg: "dead letter", type: "unknown" }));
  });
});

describe("retry delays", () => {
  it.for([
    [1, undefined, 5],
    [2, undefined, 10],
    [3, undefined, 20],
    [9, undefined, 1280],
    [10, undefined, 2560],
    [11, undefined, 3600],
    [1, 120, 120],
    [5, 3, 80],
    [1, 10_000_000, MAX_RETRY_DELAY_SECONDS],
  ] as const)("after try %i with Retry-After %s: %i s", ([attempts, retryAfter, delay]) => {
    expect(retryDelaySeconds(attempts, retryAfter)).toBe(delay);
  });
});

/** The user's import, as the queue's real consumer makes it, within `timeoutMs`. */
const importedAvatar = (user: User) =>
  eventually(async () => {
    const profile = await me(user);
    return profile.avatarSource === "identity_provider" ? profile : undefined;
  });

describe("enqueueing imports", () => {
  const USERS_API = `${WORKOS_API_URL}/user_management/users/`;

  it("end to end: a first sign-in is provisioned with initials, and the queue imports the WorkOS picture", async () => {
    const sub = newWorkOSUserId();
    const url = pictureUrl();
    mockWorkOS({
      [USERS_API]: () => Response.json(workosUserObject(sub, { profile_picture_url: url })),
      [PICTURES]: () => jpegResponse(),
    });
    const token = await signToken({ sub, org_id: "org_acme" });
    const first = await call("/api/v1/users/me", { token, env: { JOBS: env.CONSUMED_JOBS } });
    expect((await json(first)).avatarSource).toBe("initials");
    const user = (await db().query.users.findFirst({
      where: eq(users.workosUserId, sub),
    })) as User;

    const profile = await importedAvatar(user);
    expect(profile.profilePictureUrl).toBe(url);
  });

  it("end to end: user.updated with another URL shows initials at once, then the new import", async () => {
    mockWorkOS({ [PICTURES]: () => jpegResponse() });
    const first = pictureUrl();
    const user = await userWithPicture(first);
    await consume([importMessage(user, first)]);
    const [old] = await uploadsOf(user);

    const second = pictureUrl();
    const event = workosEvent(
      "user.updated",
      workosUserObject(user.workosUserId, {
        profile_picture_url: second,
        updated_at: new Date().toISOString(),
      }),
    );
    const body = JSON.stringify(event);
    const response = await call("/webhooks/workos", {
      method: "POST",
      body,
      headers: { "Content-Type": "application/json", "WorkOS-Signature": await signWebhook(body) },
      env: { JOBS: env.CONSUMED_JOBS },
    });
    expect(response.status).toBe(200);
    // The write that took the new URL stopped showing the old import (the queue waits a second
    // to fill a batch, so the new one is not in yet).
    expect(await readUser(user.id)).toMatchObject({ importedPictureUploadId: null, pictureImportUrl: null });
    expect((await me(user)).avatarSource).toBe("initials");

    await importedAvatar(user);
    const after = await readUser(user.id);
    expect(after?.pictureImportUrl).toBe(second);
    expect(after?.importedPictureUploadId).not.toBe(old?.id);
  });

  /** What the webhook sends to the queue for `event` (a spy on the real binding; nothing is replaced). */
  async function sentFor(event: ReturnType<typeof workosEvent>) {
    const sendBatch = vi.spyOn(env.JOBS, "sendBatch");
    const body = JSON.stringify(event);
    const response = await call("/webhooks/workos", {
      method: "POST",
      body,
      headers: { "Content-Type": "application/json", "WorkOS-Signature": await signWebhook(body) },
    });
    expect(response.status).toBe(200);
    const sent = sendBatch.mock.calls.flatMap(([messages]) => [...messages].map((message) => message.body));
    sendBatch.mockRestore();
    return sent;
  }

  it("on user.created with a picture, on user.updated with another URL, and on neither otherwise", async () => {
    const sub = newWorkOSUserId();
    const url = pictureUrl();
    const at = (minutes: number) => new Date(Date.now() - 60_000 * (10 - minutes)).toISOString();
    const created = workosEvent(
      "user.created",
      workosUserObject(sub, { profile_picture_url: url, updated_at: at(1) }),
    );
    expect(await sentFor(created)).toEqual([{ type: "import_picture", workosUserId: sub, url }]);
    const sameUrl = workosEvent(
      "user.updated",
      workosUserObject(sub, { profile_picture_url: url, first_name: "G", updated_at: at(2) }),
    );
    // Still due (no consumer ran in between), so the webhook asks again: the consumer does it once.
    expect(await sentFor(sameUrl)).toEqual([{ type: "import_picture", workosUserId: sub, url }]);
    await db().update(users).set({ pictureImportUrl: url }).where(eq(users.workosUserId, sub));
    const again = workosEvent(
      "user.updated",
      workosUserObject(sub, { profile_picture_url: url, first_name: "H", updated_at: at(3) }),
    );
    expect(await sentFor(again)).toEqual([]);
    const other = pictureUrl();
    const changed = workosEvent(
      "user.updated",
      workosUserObject(sub, { profile_picture_url: other, updated_at: at(4) }),
    );
    expect(await sentFor(changed)).toEqual([{ type: "import_picture", workosUserId: sub, url: other }]);
    const removed = workosEvent(
      "user.updated",
      workosUserObject(sub, { profile_picture_url: null, updated_at: at(5) }),
    );
    expect(await sentFor(removed)).toEqual([]);
    const withoutPicture = workosEvent(
      "user.created",
      workosUserObject(newWorkOSUserId(), { profile_picture_url: null }),
    );
    expect(await sentFor(withoutPicture)).toEqual([]);
  });

  it("keeps the change when the queue is down, logs it, and the hourly job enqueues it later", async () => {
    const sub = newWorkOSUserId();
    const url = pictureUrl();
    mockWorkOS({ [USERS_API]: () => Response.json(workosUserObject(sub, { profile_picture_url: url })) });
    const logs = captureLogs();
    const response = await call("/api/v1/users/me", {
      token: await signToken({ sub, org_id: "org_acme" }),
      env: { JOBS: queueDown },
    });
    expect(response.status).toBe(200);
    expect(logs).toContainEqual(
      expect.objectContaining({ level: "error", msg: "jobs not enqueued; the hourly job will enqueue them" }),
    );

    const sendBatch = vi.spyOn(env.JOBS, "sendBatch");
    await enqueueBacklog(env);
    const sent = sendBatch.mock.calls.flatMap(([messages]) => [...messages].map((message) => message.body));
    expect(sent).toContainEqual({ type: "import_picture", workosUserId: sub, url });
  });
});

describe("the hourly job's backlog", () => {
  it("enqueues the imports still due, and no one else's, in bounded batches", async () => {
    const due = await userWithPicture();
    const imported = await userWithPicture(pictureUrl(), {});
    await db()
      .update(users)
      .set({ pictureImportUrl: imported.workosProfilePictureUrl })
      .where(eq(users.id, imported.id));
    const deleted = await userWithPicture(pictureUrl(), { state: "deleted" });
    const none = await createUser({ workosProfilePictureUrl: null });

    const sendBatch = vi.spyOn(env.JOBS, "sendBatch");
    const { imports } = await enqueueBacklog(env, { batchSize: 7 });
    const sent = sendBatch.mock.calls.flatMap(([messages]) => [...messages].map((message) => message.body));
    expect(sent).toHaveLength(imports);
    expect(sent).toContainEqual(importMessage(due, due.workosProfilePictureUrl as string));
    for (const skipped of [imported, deleted, none]) {
      expect(sent).not.toContainEqual(expect.objectContaining({ workosUserId: skipped.workosUserId }));
    }
    // Each send is at most a batch, and a run stops at its limit.
    expect(Math.max(...sendBatch.mock.calls.map(([messages]) => [...messages].length))).toBeLessThanOrEqual(
      7,
    );
    sendBatch.mockClear();
    expect((await enqueueBacklog(env, { batchSize: 3, maxImports: 5 })).imports).toBeLessThanOrEqual(5);
  });
});

describe("imports are the service's own", () => {
  it("are not the upload API's to read or complete, nor the PATCH's to attach: 404, nothing written", async () => {
    pictureHost();
    const url = pictureUrl();
    const user = await userWithPicture(url);
    await consume([importMessage(user, url)]);
    const [imported] = await uploadsOf(user);
    const token = await signToken({ sub: user.workosUserId, org_id: "org_acme" });
    const read = await call(`/api/v1/uploads/${imported?.id}`, { token });
    expect(read.status).toBe(404);
    const complete = await call(`/api/v1/uploads/${imported?.id}/complete`, { method: "POST", token });
    expect(complete.status).toBe(404);
    const before = await readUser(user.id);
    const patch = await call("/api/v1/users/me/profile-picture", {
      method: "PATCH",
      token,
      json: { uploadId: imported?.id },
    });
    expect(patch.status).toBe(404);
    expect(await json(patch)).toMatchObject({ code: "upload_not_found" });
    expect(await readUser(user.id)).toEqual(before);
  });
});

describe("imports and the storage cleanup", () => {
  const DAY = 24 * 60 * 60 * 1000;

  async function importFor(user: User, url: string) {
    await consume([importMessage(user, url)]);
    const row = await readUser(user.id);
    return row?.importedPictureUploadId as string;
  }

  const objectsOf = async (uploadId: string) =>
    (await env.BUCKET.list({ prefix: `uploads/${uploadId}/` })).objects.map((object) => object.key).sort();

  it("keeps the import shown, and deletes one replaced by a newer URL 7 days after, with its objects", async () => {
    pictureHost();
    vi.spyOn(console, "log").mockImplementation(() => {});
    const first = pictureUrl();
    const user = await userWithPicture(first);
    const old = await importFor(user, first);
    expect(await objectsOf(old)).toHaveLength(5);

    // WorkOS gives another picture: the old import stops being shown (the trigger dates that).
    await db().update(users).set({ workosProfilePictureUrl: pictureUrl() }).where(eq(users.id, user.id));
    await db()
      .update(users)
      .set({ importedPictureUploadId: null, pictureImportUrl: null })
      .where(eq(users.id, user.id));
    const [replaced] = await db().select().from(uploads).where(eq(uploads.id, old));
    const second = (await readUser(user.id))?.workosProfilePictureUrl as string;
    const shown = await importFor(user, second);

    await cleanUpStorage(env, new Date(Date.now() + 6 * DAY));
    expect(await objectsOf(old)).toHaveLength(5);
    await cleanUpStorage(env, new Date((replaced?.updatedAt.getTime() ?? 0) + 7 * DAY + 1000));
    expect(await objectsOf(old)).toEqual([]);
    expect(await db().select().from(uploads).where(eq(uploads.id, old))).toEqual([]);
    // The import shown is never garbage, however old.
    await cleanUpStorage(env, new Date(Date.now() + 365 * DAY));
    expect(await objectsOf(shown)).toHaveLength(5);
    expect(await readUser(user.id)).toMatchObject({ importedPictureUploadId: shown });
  });

  it("a deleted user's imports go with the next run, objects and all", async () => {
    pictureHost();
    vi.spyOn(console, "log").mockImplementation(() => {});
    const url = pictureUrl();
    const user = await userWithPicture(url);
    const imported = await importFor(user, url);
    const body = JSON.stringify(workosEvent("user.deleted", { id: user.workosUserId }));
    const deleted = await call("/webhooks/workos", {
      method: "POST",
      body,
      headers: { "Content-Type": "application/json", "WorkOS-Signature": await signWebhook(body) },
    });
    expect(deleted.status).toBe(200);
    expect(await readUser(user.id)).toMatchObject({ importedPictureUploadId: null, pictureImportUrl: null });

    await cleanUpStorage(env, new Date());
    expect(await uploadsOf(user)).toEqual([]);
    expect(await objectsOf(imported)).toEqual([]);
  });
});
