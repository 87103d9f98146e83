import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { auditEvents, searchKeysToRefold } from "../src/db/schema";
import { resendAuditEvents } from "../src/jobs/audit-events";
import { enqueueBacklog } from "../src/jobs/backlog";
import { refoldSearchKeys } from "../src/jobs/search-keys";
import { cleanUpStorage } from "../src/jobs/storage-cleanup";
import { D1_MAX_BOUND_PARAMETERS } from "../src/lib/d1";
import { MAX_ENTITY_TAGS } from "../src/lib/entity-tags";
import { encodeCursor } from "../src/routes/users/members-list";
import * as images from "./fixtures/images";
import { call } from "./helpers/api";
import { type CountingD1, countingD1 } from "./helpers/counting-d1";
import { addMembership, createUpload, createUser, db } from "./helpers/db";
import { consume, importMessage } from "./helpers/jobs";
import { signToken, tokenFor } from "./helpers/tokens";
import { emulated, putObject, startUpload } from "./helpers/uploads";
import { mockWorkOS, WORKOS_API_URL } from "./helpers/workos";
import {
  membershipEvent,
  newWorkOSUserId,
  signWebhook,
  workosEvent,
  workosUserObject,
} from "./helpers/workos-users";

const PICTURES = "https://pictures.test/";

beforeEach(() => {
  mockWorkOS({
    [PICTURES]: () => new Response(images.jpeg, { headers: { "content-type": "image/jpeg" } }),
    [`${WORKOS_API_URL}/user_management/users/`]: (request) =>
      Response.json(workosUserObject(new URL(request.url).pathname.split("/").at(-1) as string)),
  });
  vi.spyOn(console, "log").mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

const newOrg = () => `org_${crypto.randomUUID().replaceAll("-", "")}`;
const pictureOf = (userId: string) => `/api/v1/shared/users/${userId}/profile-picture`;

/**
 * The most `If-Match` takes: `MAX_ENTITY_TAGS` tags of this service's shape, `current` (a profile's
 * ETag, or none) among them.
 */
function mostTags(current?: string): string {
  const stale = Array.from(
    { length: MAX_ENTITY_TAGS - (current ? 1 : 0) },
    (_, i) => `"${1_000_000 + i}.bWVtYmVy.AAAAAAAAAAAAAAAA"`,
  );
  return [...stale, ...(current ? [current] : [])].join(", ");
}

/** An admin and a teammate of a new organization, with the teammate's current ETag as the admin reads it. */
async function adminAndTeammate() {
  const org = newOrg();
  const admin = await createUser({ role: "admin", organizationId: org });
  const teammate = await createUser({ organizationId: org });
  const token = await tokenFor(admin);
  const read = await call(`/api/v1/shared/users/${teammate.id}`, { token });
  return { admin, teammate, token, etag: read.headers.get("ETag") as string };
}

async function deliver(event: unknown, d1: D1Database) {
  const body = JSON.stringify(event);
  const response = await call("/webhooks/workos", {
    method: "POST",
    body,
    headers: { "Content-Type": "application/json", "WorkOS-Signature": await signWebhook(body) },
    env: { DB: d1 },
  });
  expect(response.status).toBe(200);
}

interface Scenario {
  name: string;
  /** Drives the service in its worst case through `d1`: the response of a route, or nothing for a job. */
  run(d1: CountingD1): Promise<Response | undefined>;
  /** The status the route answers when it reached the path it means to. */
  status?: number;
  /** A statement the scenario must have sent, so its worst case was really checked. */
  sends: RegExp;
}

const scenarios: Scenario[] = [
  {
    name: `PATCH /shared/users/{id} by an admin: an upload and ${MAX_ENTITY_TAGS} If-Match tags (written)`,
    sends: /^update "users"/,
    status: 200,
    async run(d1) {
      const { admin, teammate, token, etag } = await adminAndTeammate();
      const upload = await createUpload(admin);
      return call(pictureOf(teammate.id), {
        method: "PATCH",
        token,
        json: { uploadId: upload.id },
        headers: { "If-Match": mostTags(etag) },
        env: { DB: d1 },
      });
    },
  },
  {
    name: `PATCH /shared/users/{id} by an admin: an upload and ${MAX_ENTITY_TAGS} stale tags (412, explained)`,
    sends: /^update "users"/,
    status: 412,
    async run(d1) {
      const { admin, teammate, token } = await adminAndTeammate();
      const upload = await createUpload(admin);
      return call(pictureOf(teammate.id), {
        method: "PATCH",
        token,
        json: { uploadId: upload.id },
        headers: { "If-Match": mostTags() },
        env: { DB: d1 },
      });
    },
  },
  {
    name: `PATCH /users/me: an upload and ${MAX_ENTITY_TAGS} If-Match tags, by a user not provisioned yet (miss, provisioning, 412)`,
    sends: /^insert into "users"/,
    status: 412,
    async run(d1) {
      const sub = newWorkOSUserId();
      return call("/api/v1/users/me/profile-picture", {
        method: "PATCH",
        token: await signToken({ sub, org_id: newOrg(), role: "admin" }),
        json: { uploadId: crypto.randomUUID() },
        headers: { "If-Match": mostTags() },
        env: { DB: d1 },
      });
    },
  },
  {
    name: `PUT /shared/users/{id} by an admin: the image and ${MAX_ENTITY_TAGS} If-Match tags`,
    sends: /^insert into "uploads"/,
    status: 200,
    async run(d1) {
      const { teammate, token, etag } = await adminAndTeammate();
      return call(pictureOf(teammate.id), {
        method: "PUT",
        token,
        body: images.png,
        headers: { "Content-Type": "image/png", "If-Match": mostTags(etag) },
        env: { DB: d1 },
      });
    },
  },
  {
    name: "GET /shared/users: q of 100 characters, limit 100, a cursor of the longest keys, a role to record",
    sends: /^select .* from "users" "caller"/,
    status: 200,
    async run(d1) {
      const org = newOrg();
      const user = await createUser({ organizationId: org });
      const cursor = encodeCursor(["z".repeat(4096), "z".repeat(4096), crypto.randomUUID()]);
      const query = new URLSearchParams({ q: "a".repeat(100), limit: "100", cursor });
      return call(`/api/v1/shared/users?${query}`, {
        token: await tokenFor(user, { role: "admin" }),
        env: { DB: d1 },
      });
    },
  },
  {
    name: "GET /shared/users with a token without org_id: the caller alone, filtered",
    sends: /^select .* from "users"/,
    status: 200,
    async run(d1) {
      const user = await createUser({ organizationId: null });
      const query = new URLSearchParams({ q: "a".repeat(100), limit: "100" });
      return call(`/api/v1/shared/users?${query}`, {
        token: await tokenFor(user),
        env: { DB: d1 },
      });
    },
  },
  {
    name: "POST /uploads: an attachment past the quota (the insert under both caps, and its refusal)",
    sends: /^insert into "uploads"/,
    status: 403,
    async run(d1) {
      const user = await createUser();
      return call("/api/v1/uploads", {
        method: "POST",
        token: await tokenFor(user),
        json: { kind: "document", scope: "attachment", contentType: "text/plain", size: 25 * 1024 * 1024 },
        env: { ...emulated, DB: d1, MAX_ATTACHMENT_BYTES_PER_USER: "10" },
      });
    },
  },
  {
    name: "POST /uploads/{id}/complete",
    sends: /^update "uploads"/,
    status: 200,
    async run(d1) {
      const user = await createUser();
      const token = await tokenFor(user);
      const started = await startUpload(token, { contentType: "image/png", size: images.png.byteLength });
      expect((await putObject(started.uploadUrl, images.png, started.uploadHeaders)).status).toBe(200);
      return call(`/api/v1/uploads/${started.upload.id}/complete`, {
        method: "POST",
        token,
        env: { ...emulated, DB: d1 },
      });
    },
  },
  {
    name: "POST /webhooks/workos: user.created, user.updated, session.created and user.deleted",
    sends: /insert into "users"/,
    async run(d1) {
      const id = newWorkOSUserId();
      const user = (at: string) =>
        workosUserObject(id, { profile_picture_url: `${PICTURES}${id}-${at}.jpg`, updated_at: at });
      await deliver(workosEvent("user.created", user("2026-11-20T08:00:00.000Z")), d1);
      await deliver(workosEvent("user.updated", user("2026-11-21T08:00:00.000Z")), d1);
      await deliver(workosEvent("session.created", { user_id: id }), d1);
      await deliver(workosEvent("user.deleted", user("2026-11-22T08:00:00.000Z")), d1);
    },
  },
  {
    name: "POST /webhooks/workos: organization_membership.created, updated and deleted",
    sends: /insert into "memberships"/,
    async run(d1) {
      const user = await createUser({ organizationId: null });
      const org = newOrg();
      for (const type of ["created", "updated", "deleted"] as const) {
        await deliver(membershipEvent(type, user, org), d1);
      }
    },
  },
  {
    name: "the storage cleanup: every category, a retry of objects left, old webhook event ids",
    sends: /^delete from "uploads"/,
    async run(d1) {
      const owner = await createUser();
      const gone = await createUser();
      await addMembership(gone, newOrg());
      const longAgo = new Date(Date.now() - 30 * 24 * 60 * 60 * 1000);
      for (const state of ["pending", "failed", "ready"] as const) {
        await createUpload(owner, { state, createdAt: longAgo, updatedAt: longAgo });
        await createUpload(gone, { state, createdAt: longAgo, updatedAt: longAgo });
      }
      await deliver(workosEvent("user.deleted", { id: gone.workosUserId }), env.DB);
      // R2 refuses the first run's deletes, so the second retries what the first recorded.
      const refusing = { delete: async () => Promise.reject(new Error("R2 is down")) } as unknown as R2Bucket;
      vi.spyOn(console, "error").mockImplementation(() => {});
      await cleanUpStorage({ ...env, DB: d1, BUCKET: refusing }, new Date(), { timeBudgetMs: 0 });
      await cleanUpStorage({ ...env, DB: d1 }, new Date(Date.now() + 40 * 24 * 60 * 60 * 1000));
    },
  },
  {
    name: "the hourly refold of search keys SQLite folded ASCII-only",
    sends: /^update "users" set "first_name_key"/,
    async run(d1) {
      const user = await createUser({ firstName: "Élodie", lastName: "Ångström" });
      await db().insert(searchKeysToRefold).values({ userId: user.id });
      await refoldSearchKeys({ ...env, DB: d1 });
    },
  },
  {
    name: "the hourly backlog job and the queue's import of a WorkOS picture",
    sends: /^insert into "uploads"/,
    async run(d1) {
      const url = `${PICTURES}${crypto.randomUUID()}.jpg`;
      const user = await createUser({ workosProfilePictureUrl: url });
      await enqueueBacklog({ ...env, DB: d1 }, { batchSize: 500, maxImports: 500 });
      const result = await consume([importMessage(user, url)], { env: { DB: d1 } });
      expect(result.explicitAcks).toEqual(result.ids);
    },
  },
  {
    name: "the hourly audit job (more overdue events than D1 binds values) and the queue's delivery of one",
    sends: /^update "audit_events" set "next_attempt_at"/,
    async run(d1) {
      const user = await createUser();
      const longAgo = new Date(Date.now() - 24 * 60 * 60 * 1000);
      const events = Array.from({ length: 2 * D1_MAX_BOUND_PARAMETERS }, () => ({
        id: crypto.randomUUID(),
        organizationId: "org_acme",
        action: "profile_picture.removed" as const,
        occurredAt: longAgo,
        actorWorkosUserId: user.workosUserId,
        targetWorkosUserId: user.workosUserId,
        location: "203.0.113.1",
        via: "patch" as const,
        nextAttemptAt: longAgo,
        createdAt: longAgo,
      }));
      // Inserted a few at a time: the insert of the test's own rows must keep to D1's limit too.
      for (let i = 0; i < events.length; i += 5)
        await db()
          .insert(auditEvents)
          .values(events.slice(i, i + 5));
      vi.spyOn(console, "log").mockImplementation(() => {});
      await resendAuditEvents({ ...env, DB: d1 }, new Date(), { batchSize: 500, maxResends: 500 });
      mockWorkOS({ [`${WORKOS_API_URL}/audit_logs/events`]: () => new Response(null, { status: 201 }) });
      const result = await consume([{ type: "audit_event", id: events[0]?.id }], { env: { DB: d1 } });
      expect(result.explicitAcks).toEqual(result.ids);
    },
  },
];

describe("D1's limits on a statement", () => {
  it.for(scenarios)(
    `case 52: $name: every statement binds at most ${D1_MAX_BOUND_PARAMETERS} values`,
    async ({ run, sends, status }) => {
      const d1 = countingD1(env.DB);

      const response = await run(d1);

      const over = d1.statements
        .filter(({ params }) => params.length > D1_MAX_BOUND_PARAMETERS)
        .map(({ sql, params }) => `${params.length} values: ${sql.slice(0, 120)}`);
      expect(over).toEqual([]);
      expect(d1.statements.map(({ sql }) => sql)).toContainEqual(expect.stringMatching(sends));
      expect(response?.status).toBe(status);
    },
  );
});
