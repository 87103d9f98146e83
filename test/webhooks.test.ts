import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { memberSearchPrefixes, memberships, type User, users, webhookEvents } from "../src/db/schema";
import { call, json } from "./helpers/api";
import { countingD1 } from "./helpers/counting-d1";
import { addMembership, createUpload, createUser, db, readUpload, readUser } from "./helpers/db";
import { signToken } from "./helpers/tokens";
import { mockWorkOS } from "./helpers/workos";
import {
  deliverWebhook,
  newWorkOSUserId,
  signWebhook,
  workosEvent,
  workosUserObject,
} from "./helpers/workos-users";

afterEach(() => vi.restoreAllMocks());

const T1 = "2026-11-21T10:00:00.000Z";
const T2 = "2026-11-22T10:00:00.000Z";
const T3 = "2026-11-23T10:00:00.000Z";

/** The body and headers of a correctly signed delivery of `event`, for a call with its own env. */
async function signedDelivery(event: unknown) {
  const body = JSON.stringify(event);
  return {
    body,
    headers: { "Content-Type": "application/json", "WorkOS-Signature": await signWebhook(body) },
  };
}

const rowFor = (workosUserId: string) =>
  db().query.users.findFirst({ where: eq(users.workosUserId, workosUserId) });
const membershipsOf = (user: User) =>
  db().select().from(memberships).where(eq(memberships.workosUserId, user.workosUserId)).all();
const recorded = (eventId: string) =>
  db().query.webhookEvents.findFirst({ where: eq(webhookEvents.id, eventId) });

describe("POST /webhooks/workos", () => {
  describe("user events", () => {
    it("creates the user from user.created, active", async () => {
      const id = newWorkOSUserId();
      const event = workosEvent("user.created", workosUserObject(id, { first_name: null, updated_at: T1 }));

      const response = await deliverWebhook(event);

      expect(response.status).toBe(200);
      expect(await json(response)).toEqual({ received: true });
      expect(await rowFor(id)).toMatchObject({
        email: `${id.toLowerCase()}@example.com`,
        emailVerified: true,
        firstName: "",
        lastName: "Hopper",
        workosProfilePictureUrl: `https://workoscdn.com/images/${id}.png`,
        state: "active",
        profilePictureUploadId: null,
        lastLogin: new Date("2026-11-20T08:00:00.000Z"),
        createdAt: new Date("2026-01-02T03:04:05.000Z"),
        workosUpdatedAt: new Date(T1),
      });
      expect(await recorded(event.id)).toMatchObject({ event: "user.created" });
    });

    it("lets a user created by webhook sign in without asking the WorkOS API", async () => {
      const id = newWorkOSUserId();
      await deliverWebhook(workosEvent("user.created", workosUserObject(id)));
      const workos = mockWorkOS();

      const response = await call("/api/v1/users/me", {
        token: await signToken({ sub: id, org_id: "org_acme", role: "admin" }),
      });

      expect(response.status).toBe(200);
      expect(await json(response)).toMatchObject({ email: `${id.toLowerCase()}@example.com`, role: "admin" });
      expect(workos.count("https://workos-api.test")).toBe(0);
    });

    it("updates the WorkOS-owned fields from user.updated and leaves ours alone", async () => {
      const user = await createUser({ role: "admin", organizationId: "org_acme" });
      const event = workosEvent(
        "user.updated",
        workosUserObject(user.workosUserId, {
          email: "grace@navy.example",
          email_verified: false,
          first_name: "Grace",
          last_name: null,
          profile_picture_url: "https://workoscdn.com/images/new.png",
          last_sign_in_at: null,
          updated_at: T2,
        }),
      );

      const response = await deliverWebhook(event);

      expect(response.status).toBe(200);
      const row = await readUser(user.id);
      expect(row).toMatchObject({
        email: "grace@navy.example",
        emailVerified: false,
        firstName: "Grace",
        lastName: "",
        workosProfilePictureUrl: "https://workoscdn.com/images/new.png",
        workosUpdatedAt: new Date(T2),
        // Ours: untouched. A missing last_sign_in_at does not erase the last login we know.
        id: user.id,
        state: "active",
        lastLogin: user.lastLogin,
        createdAt: user.createdAt,
      });
      expect(row?.updatedAt.getTime()).toBeGreaterThan(user.updatedAt.getTime());
    });

    it("keeps a custom photo across user.updated; the new WorkOS URL shows only without one", async () => {
      const withPhoto = await createUser();
      const upload = await createUpload(withPhoto);
      await db().update(users).set({ profilePictureUploadId: upload.id }).where(eq(users.id, withPhoto.id));
      const withoutPhoto = await createUser();
      mockWorkOS();

      for (const user of [withPhoto, withoutPhoto]) {
        const response = await deliverWebhook(
          workosEvent(
            "user.updated",
            workosUserObject(user.workosUserId, {
              profile_picture_url: `https://workoscdn.com/images/${user.id}-v2.png`,
              updated_at: T2,
            }),
          ),
        );
        expect(response.status).toBe(200);
      }

      expect(await readUser(withPhoto.id)).toMatchObject({
        profilePictureUploadId: upload.id,
        workosProfilePictureUrl: `https://workoscdn.com/images/${withPhoto.id}-v2.png`,
      });
      const shownWithPhoto = await json(
        await call("/api/v1/users/me", {
          token: await signToken({ sub: withPhoto.workosUserId, org_id: "org_acme", role: "member" }),
        }),
      );
      expect(shownWithPhoto.hasCustomProfilePicture).toBe(true);
      expect(shownWithPhoto.profilePictureUrl).toContain(`uploads/${upload.id}/`);

      const shownWithout = await json(
        await call("/api/v1/users/me", {
          token: await signToken({ sub: withoutPhoto.workosUserId, org_id: "org_acme", role: "member" }),
        }),
      );
      expect(shownWithout).toMatchObject({
        hasCustomProfilePicture: false,
        profilePictureUrl: `https://workoscdn.com/images/${withoutPhoto.id}-v2.png`,
      });
    });

    it("drops a WorkOS profile_picture_url that is not an http(s) URL", async () => {
      const user = await createUser();

      const response = await deliverWebhook(
        workosEvent(
          "user.updated",
          workosUserObject(user.workosUserId, { profile_picture_url: "javascript:alert(1)", updated_at: T2 }),
        ),
      );

      expect(response.status).toBe(200);
      expect(await readUser(user.id)).toMatchObject({ workosProfilePictureUrl: null });
    });

    it("takes a user out of service on user.deleted: their token is refused, teammates get 404", async () => {
      const user = await createUser({ organizationId: "org_acme" });
      const upload = await createUpload(user);
      const teammate = await createUser({ organizationId: "org_acme" });
      const workos = mockWorkOS();

      const response = await deliverWebhook(
        workosEvent("user.deleted", workosUserObject(user.workosUserId, { updated_at: T2 })),
      );

      expect(response.status).toBe(200);
      expect(await readUser(user.id)).toMatchObject({ state: "deleted" });
      // The upload stays until the cleanup's next run, dated by the deletion so that run finds it.
      expect(await readUpload(upload.id)).toEqual({ ...upload, ownerDeletedAt: expect.any(Date) });

      const own = await call("/api/v1/users/me", {
        token: await signToken({ sub: user.workosUserId, org_id: "org_acme", role: "member" }),
      });
      expect(own.status).toBe(401);
      expect(own.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
      expect(workos.count("https://workos-api.test")).toBe(0);

      const seen = await call(`/api/v1/shared/users/${user.id}`, {
        token: await signToken({ sub: teammate.workosUserId, org_id: "org_acme", role: "member" }),
      });
      expect(seen.status).toBe(404);
      expect((await json(seen)).code).toBe("user_not_found");
    });

    it("detaches the custom photo of a deleted user in the same write that sets the state", async () => {
      const user = await createUser();
      const upload = await createUpload(user);
      await db().update(users).set({ profilePictureUploadId: upload.id }).where(eq(users.id, user.id));
      const d1 = countingD1(env.DB);

      const response = await call("/webhooks/workos", {
        method: "POST",
        ...(await signedDelivery(workosEvent("user.deleted", workosUserObject(user.workosUserId)))),
        env: { DB: d1 },
      });

      expect(response.status).toBe(200);
      expect(await readUser(user.id)).toMatchObject({ state: "deleted", profilePictureUploadId: null });
      // One batch: the event id, and one statement that both sets the state and detaches the photo.
      expect(d1.trips).toHaveLength(1);
      expect(d1.trips[0]).toMatch(
        /; insert into "users" .* on conflict .* do update set "email" = \?, .*"state" = \?, .*"profile_picture_upload_id" = \?/i,
      );
      // The upload itself stays for the storage cleanup, which deletes a deleted user's uploads.
      expect(await readUpload(upload.id)).toMatchObject({ id: upload.id, state: "ready" });
    });

    it("case 50: user.deleted erases the person: no email, name, search key, WorkOS picture URL or last sign-in stays, on the user, their memberships or their search prefixes", async () => {
      const person = {
        email: "Zoë.Ångström@Example.com",
        firstName: "Zoë",
        lastName: "Ångström",
        workosProfilePictureUrl: "https://workoscdn.com/images/zoe.png",
      };
      const user = await createUser({ ...person, organizationId: "org_acme" });
      await addMembership(user, "org_other", { role: "admin" });
      const upload = await createUpload(user);
      await db().update(users).set({ profilePictureUploadId: upload.id }).where(eq(users.id, user.id));
      const before = (await readUser(user.id)) as User;
      expect(await membershipsOf(user)).toHaveLength(2);
      const prefixesOf = () =>
        db().select().from(memberSearchPrefixes).where(eq(memberSearchPrefixes.userId, user.id));
      // The members list's search prefixes hold the keys too (migrations/0018), in both organizations.
      expect(new Set((await prefixesOf()).map((row) => row.organizationId))).toEqual(
        new Set(["org_acme", "org_other"]),
      );

      const response = await deliverWebhook(workosEvent("user.deleted", workosUserObject(user.workosUserId)));

      expect(response.status).toBe(200);
      const tombstone = await readUser(user.id);
      expect(tombstone).toEqual({
        ...before,
        email: "",
        emailVerified: false,
        firstName: "",
        lastName: "",
        firstNameKey: "",
        lastNameKey: "",
        emailKey: "",
        workosProfilePictureUrl: null,
        lastLogin: null,
        profilePictureUploadId: null,
        profilePictureThumbSizes: null,
        state: "deleted",
        updatedAt: expect.any(Date),
      });
      const copies = await membershipsOf(user);
      expect(copies).toHaveLength(2);
      for (const membership of copies) {
        expect(membership).toMatchObject({
          userState: "deleted",
          firstNameKey: "",
          lastNameKey: "",
          emailKey: "",
        });
      }
      const prefixes = await prefixesOf();
      expect(prefixes).toEqual([]);
      // Nothing of the person in any form: as given, or lower-cased into a key or a key's prefix.
      const stored = JSON.stringify([tombstone, copies, prefixes]).toLowerCase();
      for (const value of ["zoë", "ångström", "example.com", "workoscdn"])
        expect(stored).not.toContain(value);
    });

    it("remembers a deleted WorkOS id it never saw: a late user.created, user.updated or first sign-in brings no one back", async () => {
      const id = newWorkOSUserId();
      const workos = mockWorkOS({
        "https://workos-api.test/user_management/users/": () => Response.json(workosUserObject(id)),
      });

      expect(
        (await deliverWebhook(workosEvent("user.deleted", workosUserObject(id, { updated_at: T1 })))).status,
      ).toBe(200);
      const remembered = await rowFor(id);
      expect(remembered).toMatchObject({ state: "deleted", profilePictureUploadId: null });
      for (const type of ["user.created", "user.updated"]) {
        const late = workosEvent(type, workosUserObject(id, { first_name: "Zombie", updated_at: T3 }));
        expect((await deliverWebhook(late)).status).toBe(200);
        expect(await rowFor(id)).toEqual(remembered);
      }

      const signIn = await call("/api/v1/users/me", {
        token: await signToken({ sub: id, org_id: "org_acme" }),
      });

      expect(signIn.status).toBe(401);
      expect(workos.count("https://workos-api.test")).toBe(0);
      expect(await db().select().from(users).where(eq(users.workosUserId, id)).all()).toHaveLength(1);
      expect(await rowFor(id)).toEqual(remembered);
    });

    it("never brings a deleted user back with a later user.updated", async () => {
      const user = await createUser({ state: "deleted", workosUpdatedAt: new Date(T1) });

      const response = await deliverWebhook(
        workosEvent(
          "user.updated",
          workosUserObject(user.workosUserId, { first_name: "Zombie", updated_at: T3 }),
        ),
      );

      expect(response.status).toBe(200);
      expect(await readUser(user.id)).toEqual(user);
    });
  });

  describe("session.created", () => {
    it("records the sign-in time of the user it names", async () => {
      const user = await createUser({ lastLogin: new Date(T1) });

      const response = await deliverWebhook(
        workosEvent("session.created", {
          object: "session",
          id: "session_01",
          user_id: user.workosUserId,
          organization_id: "org_acme",
          created_at: T2,
          updated_at: T2,
        }),
      );

      expect(response.status).toBe(200);
      expect(await readUser(user.id)).toMatchObject({ lastLogin: new Date(T2) });
    });

    it("keeps no record of its id: its write guards itself, and a redelivery changes nothing", async () => {
      const user = await createUser({ lastLogin: new Date(T1) });
      const event = workosEvent("session.created", {
        object: "session",
        user_id: user.workosUserId,
        created_at: T2,
      });

      expect((await deliverWebhook(event)).status).toBe(200);
      const afterFirst = await readUser(user.id);
      expect(afterFirst).toMatchObject({ lastLogin: new Date(T2) });
      expect(await recorded(event.id)).toBeUndefined();

      expect((await deliverWebhook(event)).status).toBe(200);
      expect(await readUser(user.id)).toEqual(afterFirst);
      expect(await recorded(event.id)).toBeUndefined();
    });

    it("does not move lastLogin back for an older session", async () => {
      const user = await createUser({ lastLogin: new Date(T2) });

      const response = await deliverWebhook(
        workosEvent("session.created", { object: "session", user_id: user.workosUserId, created_at: T1 }),
      );

      expect(response.status).toBe(200);
      expect(await readUser(user.id)).toEqual(user);
    });

    it("acknowledges a session.created that names no user and writes nothing", async () => {
      const event = workosEvent("session.created", { object: "session", id: "session_02" });

      const response = await deliverWebhook(event);

      expect(response.status).toBe(200);
      expect(await recorded(event.id)).toBeUndefined();
    });
  });

  describe("delivery semantics", () => {
    it("case 46: applies a redelivered (replayed) event only once", async () => {
      const user = await createUser();
      const event = workosEvent(
        "user.updated",
        workosUserObject(user.workosUserId, { first_name: "First", updated_at: T2 }),
      );
      expect((await deliverWebhook(event)).status).toBe(200);
      // Change the row behind WorkOS's back so that only the event id can stop the replay.
      await db()
        .update(users)
        .set({ firstName: "Local", workosUpdatedAt: new Date(T1) })
        .where(eq(users.id, user.id));
      const before = await readUser(user.id);

      const replay = await deliverWebhook(event);

      expect(replay.status).toBe(200);
      expect(await json(replay)).toEqual({ received: true });
      expect(await readUser(user.id)).toEqual(before);
    });

    it("records one event when the same delivery arrives twice at once", async () => {
      const id = newWorkOSUserId();
      const event = workosEvent("user.created", workosUserObject(id));

      const responses = await Promise.all([
        deliverWebhook(event),
        deliverWebhook(event),
        deliverWebhook(event),
      ]);

      expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(await db().select().from(users).where(eq(users.workosUserId, id)).all()).toHaveLength(1);
      expect(
        await db().select().from(webhookEvents).where(eq(webhookEvents.id, event.id)).all(),
      ).toHaveLength(1);
    });

    it("ignores an event older than what is stored", async () => {
      const user = await createUser();
      const newer = workosEvent(
        "user.updated",
        workosUserObject(user.workosUserId, { first_name: "New", updated_at: T3 }),
      );
      const older = workosEvent(
        "user.updated",
        workosUserObject(user.workosUserId, { first_name: "Old", updated_at: T2 }),
      );

      expect((await deliverWebhook(newer)).status).toBe(200);
      const afterNewer = await readUser(user.id);
      const response = await deliverWebhook(older);

      expect(response.status).toBe(200);
      expect(afterNewer).toMatchObject({ firstName: "New", workosUpdatedAt: new Date(T3) });
      expect(await readUser(user.id)).toEqual(afterNewer);
    });

    it("acknowledges an event type it does not handle and writes nothing", async () => {
      const user = await createUser();
      const event = workosEvent("organization.updated", { id: "org_acme", name: "Acme" });

      const response = await deliverWebhook(event);

      expect(response.status).toBe(200);
      expect(await json(response)).toEqual({ received: true });
      expect(await recorded(event.id)).toBeUndefined();
      expect(await readUser(user.id)).toEqual(user);
    });

    it("needs no bearer token and is described in /openapi.json", async () => {
      const spec = await json<{ paths: Record<string, Record<string, unknown>> }>(
        await call("/openapi.json"),
      );

      expect(spec.paths["/webhooks/workos"]).toHaveProperty("post");
      expect(spec.paths["/webhooks/workos"]?.post).not.toHaveProperty("security");
    });

    it("answers 405 to other methods", async () => {
      const response = await call("/webhooks/workos");

      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toContain("POST");
    });
  });

  describe("signature checks", () => {
    const refusedWithNothingWritten = async (response: Response, id: string, eventId: string) => {
      expect(response.status).toBe(401);
      expect((await json(response)).code).toBe("unauthenticated");
      expect(await rowFor(id)).toBeUndefined();
      expect(await recorded(eventId)).toBeUndefined();
    };

    it("case 46: refuses a delivery without a WorkOS-Signature header", async () => {
      const id = newWorkOSUserId();
      const event = workosEvent("user.created", workosUserObject(id));

      await refusedWithNothingWritten(await deliverWebhook(event, { signature: null }), id, event.id);
    });

    it("case 46: refuses a signature made with another secret", async () => {
      const id = newWorkOSUserId();
      const event = workosEvent("user.created", workosUserObject(id));

      await refusedWithNothingWritten(
        await deliverWebhook(event, { secret: "whsec_not_ours" }),
        id,
        event.id,
      );
    });

    it("case 46: refuses a body changed after signing", async () => {
      const id = newWorkOSUserId();
      const event = workosEvent("user.created", workosUserObject(id));
      const signature = await signWebhook(
        JSON.stringify({ ...event, data: workosUserObject(id, { email: "x@y.z" }) }),
      );

      await refusedWithNothingWritten(await deliverWebhook(event, { signature }), id, event.id);
    });

    it("refuses a timestamp changed after signing", async () => {
      const id = newWorkOSUserId();
      const event = workosEvent("user.created", workosUserObject(id));
      const signature = (await signWebhook(JSON.stringify(event))).replace(
        /^t=(\d+)/,
        (_, t) => `t=${Number(t) - 1}`,
      );

      await refusedWithNothingWritten(await deliverWebhook(event, { signature }), id, event.id);
    });

    it("case 46: refuses a stale delivery, correctly signed more than 180 s ago", async () => {
      const id = newWorkOSUserId();
      const event = workosEvent("user.created", workosUserObject(id));

      await refusedWithNothingWritten(
        await deliverWebhook(event, { timestamp: Date.now() - 181_000 }),
        id,
        event.id,
      );
    });

    it("refuses a correctly signed delivery dated more than 180 s ahead", async () => {
      const id = newWorkOSUserId();
      const event = workosEvent("user.created", workosUserObject(id));

      await refusedWithNothingWritten(
        await deliverWebhook(event, { timestamp: Date.now() + 181_000 }),
        id,
        event.id,
      );
    });

    it.for([-170_000, 170_000])(
      "accepts a correctly signed delivery within the window (%i ms from now)",
      async (offset) => {
        const id = newWorkOSUserId();
        const response = await deliverWebhook(workosEvent("user.created", workosUserObject(id)), {
          timestamp: Date.now() + offset,
        });
        expect(response.status).toBe(200);
        expect(await rowFor(id)).toBeDefined();
      },
    );

    it.each([
      ["an empty value", () => ""],
      ["only a timestamp", (h: string) => h.split(",")[0] as string],
      ["only a signature", (h: string) => (h.split(",")[1] as string).trim()],
      [
        "the timestamp in seconds",
        (h: string) => h.replace(/^t=(\d+)/, (_, t) => `t=${Math.floor(Number(t) / 1000)}`),
      ],
      ["a non-numeric timestamp", (h: string) => h.replace(/^t=\d+/, "t=now")],
      ["a truncated signature", (h: string) => h.slice(0, -2)],
      ["a signature that is not hex", (h: string) => h.replace(/v1=.{4}/, "v1=zzzz")],
      ["a second timestamp", (h: string) => `${h}, t=1`],
      ["an unknown scheme instead of v1", (h: string) => h.replace("v1=", "v0=")],
      ["no separators", (h: string) => h.replaceAll(/[ ,=]/g, "")],
    ])("refuses a header with %s", async (_, mangle) => {
      const id = newWorkOSUserId();
      const event = workosEvent("user.created", workosUserObject(id));
      const signature = mangle(await signWebhook(JSON.stringify(event)));

      await refusedWithNothingWritten(await deliverWebhook(event, { signature }), id, event.id);
    });

    it("accepts the v1 signature in upper-case hex and without the space", async () => {
      const id = newWorkOSUserId();
      const body = JSON.stringify(workosEvent("user.created", workosUserObject(id)));
      const signature = (await signWebhook(body))
        .replace(", ", ",")
        .replace(/v1=(\w+)/, (_, hex) => `v1=${hex.toUpperCase()}`);

      const response = await deliverWebhook(body, { signature });

      expect(response.status).toBe(200);
      expect(await rowFor(id)).toBeDefined();
    });
  });

  describe("bodies", () => {
    it("answers 400 to malformed JSON with a valid signature, writing nothing", async () => {
      const response = await deliverWebhook('{"object":"event","id":"event_bad","event":"user.created",');

      expect(response.status).toBe(400);
      expect(await json(response)).toEqual({
        detail: "The body is not a valid WorkOS event.",
        code: "bad_request",
      });
      expect(await recorded("event_bad")).toBeUndefined();
    });

    it.each([
      ["an array", () => []],
      ["an event without an id", () => ({ ...workosEvent("user.created", {}), id: undefined })],
      ["an event whose data is not an object", () => workosEvent("user.created", "user_123" as never)],
      ["an event of the wrong object type", () => ({ ...workosEvent("user.created", {}), object: "user" })],
    ])("answers 400 to %s with a valid signature", async (_, body) => {
      const response = await deliverWebhook(body());

      expect(response.status).toBe(400);
      expect((await json(response)).code).toBe("bad_request");
    });

    it("answers 400 to a user event whose data is not a WorkOS user, writing nothing", async () => {
      const user = await createUser();
      const event = workosEvent("user.updated", {
        ...workosUserObject(user.workosUserId, { updated_at: T3 }),
        email: undefined,
      });

      const response = await deliverWebhook(event);

      expect(response.status).toBe(400);
      expect(await readUser(user.id)).toEqual(user);
      expect(await recorded(event.id)).toBeUndefined();
    });

    it("answers 400 to a correctly signed body that is not UTF-8", async () => {
      const bytes = new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]);

      const response = await call("/webhooks/workos", {
        method: "POST",
        body: bytes,
        headers: { "Content-Type": "application/json", "WorkOS-Signature": await signWebhook(bytes) },
      });

      expect(response.status).toBe(400);
      expect((await json(response)).code).toBe("bad_request");
    });

    it("checks the signature before parsing: malformed JSON with a bad signature is 401", async () => {
      const response = await deliverWebhook("{not json", { secret: "whsec_not_ours" });

      expect(response.status).toBe(401);
    });

    it("answers 413 to a body over 256 KB, before checking anything else", async () => {
      const id = newWorkOSUserId();
      const event = workosEvent("user.created", workosUserObject(id, { padding: "x".repeat(300 * 1024) }));

      const response = await deliverWebhook(event);

      expect(response.status).toBe(413);
      expect((await json(response)).code).toBe("payload_too_large");
      expect(await rowFor(id)).toBeUndefined();
    });

    it("answers 413 to an oversized body sent chunked, without Content-Length", async () => {
      const id = newWorkOSUserId();
      const text = JSON.stringify(
        workosEvent("user.created", workosUserObject(id, { padding: "x".repeat(300 * 1024) })),
      );
      const encoded = new TextEncoder().encode(text);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let offset = 0; offset < encoded.byteLength; offset += 16 * 1024) {
            controller.enqueue(encoded.slice(offset, offset + 16 * 1024));
          }
          controller.close();
        },
      });

      const response = await call("/webhooks/workos", {
        method: "POST",
        body: stream,
        headers: { "Content-Type": "application/json", "WorkOS-Signature": await signWebhook(text) },
      });

      expect(response.status).toBe(413);
      expect(await rowFor(id)).toBeUndefined();
    });
  });
});
