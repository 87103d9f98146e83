import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AUDIT_ACTION_SCHEMAS, AUDIT_SCHEMA_VERSION, type AuditAction } from "../src/audit/action-schemas";
import { auditEvents, type User, users } from "../src/db/schema";
import { AUDIT_EVENT_RETENTION_MS, AUDIT_RESEND_GRACE_MS, resendAuditEvents } from "../src/jobs/audit-events";
import type { JobMessage } from "../src/jobs/messages";
import { JOB_MAX_ATTEMPTS } from "../src/jobs/queue-consumer";
import * as images from "./fixtures/images";
import { call } from "./helpers/api";
import { countingD1 } from "./helpers/counting-d1";
import { createUpload, createUser, db, readUser } from "./helpers/db";
import { faultyD1 } from "./helpers/faulty-d1";
import { captureLogs, consume, DEAD_LETTER_QUEUE, queueDown } from "./helpers/jobs";
import { signToken, tokenFor } from "./helpers/tokens";
import { mockWorkOS, WORKOS_API_URL, type WorkOSMock } from "./helpers/workos";
import { deliverWebhook, workosEvent, workosUserObject } from "./helpers/workos-users";

const EVENTS_URL = `${WORKOS_API_URL}/audit_logs/events`;
const API_KEY = "sk_test_workos_api_key";

afterEach(() => vi.restoreAllMocks());

/** WorkOS's audit log: answers each event with `answer` (201 by default), recording what it was sent. */
function mockAuditLog(answer: (request: Request) => Response | Promise<Response> = () => created()) {
  return mockWorkOS({ [EVENTS_URL]: answer });
}
const created = () => Response.json({ success: true }, { status: 201 });

/** What the worker sent to WorkOS's audit log, in order: headers that matter and the JSON body. */
async function sentEvents(workos: WorkOSMock) {
  return Promise.all(
    workos.requests
      .filter((request) => request.url === EVENTS_URL)
      .map(async (request) => ({
        method: request.method,
        authorization: request.headers.get("authorization"),
        idempotencyKey: request.headers.get("idempotency-key"),
        contentType: request.headers.get("content-type"),
        body: (await request.clone().json()) as Record<string, unknown>,
      })),
  );
}

/** The messages sent to the jobs queue while `run` runs. */
async function enqueuedWhile(run: () => Promise<unknown>): Promise<JobMessage[]> {
  const sendBatch = vi.spyOn(env.JOBS, "sendBatch");
  try {
    await run();
    return sendBatch.mock.calls.flatMap(([messages]) => [...messages].map((m) => m.body as JobMessage));
  } finally {
    sendBatch.mockRestore();
  }
}

const eventRows = (organizationId: string) =>
  db().select().from(auditEvents).where(eq(auditEvents.organizationId, organizationId));
const eventRow = async (id: string) =>
  (await db().select().from(auditEvents).where(eq(auditEvents.id, id)))[0];

const newOrg = () => `org_${crypto.randomUUID().replaceAll("-", "")}`;

/** An organization with an admin and a member, each with a ready photo of their own to set. */
async function team() {
  const organizationId = newOrg();
  const admin = await createUser({ organizationId, role: "admin", firstName: "Grace", lastName: "Hopper" });
  const member = await createUser({ organizationId, firstName: "Ada", lastName: "Lovelace" });
  return { organizationId, admin, member };
}

const CLIENT = { "CF-Connecting-IP": "203.0.113.7", "User-Agent": "PhotoApp/2.1 (Macintosh)" };

function patch(
  path: string,
  token: string,
  uploadId: string | null,
  headers: Record<string, string> = CLIENT,
) {
  return call(path, { method: "PATCH", token, json: { uploadId }, headers });
}

function put(path: string, token: string, headers: Record<string, string> = CLIENT) {
  return call(path, {
    method: "PUT",
    token,
    body: images.png,
    headers: { "Content-Type": "image/png", "Content-Length": String(images.png.byteLength), ...headers },
  });
}

const ME = "/api/v1/users/me/profile-picture";
const byId = (user: User) => `/api/v1/shared/users/${user.id}/profile-picture`;

/** Make the change, and deliver what it enqueued through the consumer; answers the event WorkOS got. */
async function changeAndDeliver(change: () => Promise<Response>) {
  const workos = mockAuditLog();
  let response: Response | undefined;
  const messages = await enqueuedWhile(async () => {
    response = await change();
  });
  expect(response?.status).toBe(200);
  expect(messages).toHaveLength(1);
  const result = await consume(messages);
  expect(result.explicitAcks).toEqual(result.ids);
  const [sent, ...more] = await sentEvents(workos);
  expect(more).toEqual([]);
  return { sent: sent as NonNullable<typeof sent>, message: messages[0] as JobMessage, response };
}

describe("the audit trail: what each change records in the organization's WorkOS audit log", () => {
  beforeEach(() => {
    mockAuditLog();
  });

  it.each([
    { route: "PATCH /users/me, a photo", actor: "member" as const, path: () => ME, via: "patch" },
    { route: "PATCH /shared/users/{id} on themself", actor: "member" as const, path: byId, via: "patch" },
    {
      route: "PATCH /shared/users/{id}, an admin on a teammate",
      actor: "admin" as const,
      path: byId,
      via: "patch",
    },
  ])(
    "$route: profile_picture.updated with actor, target, time, IP, user agent, uploads and via",
    async ({ actor, path, via }) => {
      const { organizationId, admin, member } = await team();
      const caller = actor === "admin" ? admin : member;
      const previous = await createUpload(member);
      await db().update(users).set({ profilePictureUploadId: previous.id }).where(eq(users.id, member.id));
      const upload = await createUpload(caller);
      const { sent, message } = await changeAndDeliver(async () =>
        patch(path(member), await tokenFor(caller), upload.id),
      );
      const written = await readUser(member.id);
      expect(sent).toEqual({
        method: "POST",
        authorization: `Bearer ${API_KEY}`,
        idempotencyKey: (message as { id: string }).id,
        contentType: "application/json",
        body: {
          organization_id: organizationId,
          event: {
            action: "profile_picture.updated",
            occurred_at: written?.updatedAt.toISOString(),
            version: 1,
            actor: {
              type: "user",
              id: caller.workosUserId,
              name: `${caller.firstName} ${caller.lastName}`,
            },
            targets: [{ type: "user", id: member.workosUserId, name: "Ada Lovelace" }],
            context: { location: "203.0.113.7", user_agent: "PhotoApp/2.1 (Macintosh)" },
            metadata: { upload_id: upload.id, previous_upload_id: previous.id, via },
          },
        },
      });
      expect((await eventRow((message as { id: string }).id))?.state).toBe("delivered");
    },
  );

  it("sends what the registered schemas describe: their version, their targets' type, their metadata's keys", async () => {
    const { member } = await team();
    const upload = await createUpload(member);
    for (const uploadId of [upload.id, null]) {
      const { sent } = await changeAndDeliver(async () => patch(ME, await tokenFor(member), uploadId));
      const event = sent.body.event as {
        action: AuditAction;
        version: number;
        targets: { type: string }[];
        metadata: Record<string, unknown>;
      };
      const schema = AUDIT_ACTION_SCHEMAS[event.action];
      expect(event.version).toBe(AUDIT_SCHEMA_VERSION);
      expect(event.targets.map((target) => target.type)).toEqual(schema.targets.map((target) => target.type));
      const properties = schema.metadata?.properties ?? {};
      expect(Object.keys(event.metadata).sort()).toEqual(Object.keys(properties).sort());
      for (const [key, value] of Object.entries(event.metadata))
        expect(typeof value).toBe(properties[key]?.type);
    }
  });
});

describe("the audit trail: removals, the one-call PUT, and what the event says of the client", () => {
  beforeEach(() => {
    mockAuditLog();
  });

  it.each([
    { route: "PATCH /users/me", actor: "member" as const, path: () => ME },
    { route: "PATCH /shared/users/{id}, an admin on a teammate", actor: "admin" as const, path: byId },
  ])("$route with null: profile_picture.removed, naming the photo removed", async ({ actor, path }) => {
    const { admin, member } = await team();
    const caller = actor === "admin" ? admin : member;
    const previous = await createUpload(member);
    await db().update(users).set({ profilePictureUploadId: previous.id }).where(eq(users.id, member.id));
    const { sent } = await changeAndDeliver(async () => patch(path(member), await tokenFor(caller), null));
    const event = sent.body.event as Record<string, unknown>;
    expect(event.action).toBe("profile_picture.removed");
    expect(event.actor).toEqual({
      type: "user",
      id: caller.workosUserId,
      name: `${caller.firstName} ${caller.lastName}`,
    });
    expect(event.metadata).toEqual({ upload_id: "", previous_upload_id: previous.id, via: "patch" });
  });

  it.each([
    { route: "PUT /users/me", actor: "member" as const, path: () => ME },
    { route: "PUT /shared/users/{id}, an admin on a teammate", actor: "admin" as const, path: byId },
  ])("$route: profile_picture.updated via put, naming the upload the PUT made", async ({ actor, path }) => {
    const { organizationId, admin, member } = await team();
    const caller = actor === "admin" ? admin : member;
    const { sent, response } = await changeAndDeliver(async () => put(path(member), await tokenFor(caller)));
    const written = await readUser(member.id);
    expect(written?.profilePictureUploadId).toEqual(expect.any(String));
    expect(sent.body).toEqual({
      organization_id: organizationId,
      event: {
        action: "profile_picture.updated",
        occurred_at: written?.updatedAt.toISOString(),
        version: 1,
        actor: { type: "user", id: caller.workosUserId, name: `${caller.firstName} ${caller.lastName}` },
        targets: [{ type: "user", id: member.workosUserId, name: "Ada Lovelace" }],
        context: { location: "203.0.113.7", user_agent: "PhotoApp/2.1 (Macintosh)" },
        metadata: { upload_id: written?.profilePictureUploadId, previous_upload_id: "", via: "put" },
      },
    });
    expect(response?.status).toBe(200);
  });

  it("names a user without a name by their email, and leaves user_agent out when none was sent", async () => {
    const organizationId = newOrg();
    const caller = await createUser({ organizationId, firstName: "", lastName: "" });
    const upload = await createUpload(caller);
    const { sent } = await changeAndDeliver(async () =>
      patch(ME, await tokenFor(caller), upload.id, { "CF-Connecting-IP": "2001:db8::1" }),
    );
    const event = sent.body.event as Record<string, unknown>;
    expect(event.actor).toEqual({ type: "user", id: caller.workosUserId, name: caller.email });
    expect(event.targets).toEqual([{ type: "user", id: caller.workosUserId, name: caller.email }]);
    expect(event.context).toEqual({ location: "2001:db8::1" });
  });

  it("keeps at most 512 characters of a User-Agent: the header is the client's to make as long as it likes", async () => {
    const organizationId = newOrg();
    const caller = await createUser({ organizationId });
    const upload = await createUpload(caller);
    const userAgent = `PhotoApp/2.1 ${"x".repeat(10_000)}`;
    const { sent } = await changeAndDeliver(async () =>
      patch(ME, await tokenFor(caller), upload.id, { ...CLIENT, "User-Agent": userAgent }),
    );
    const { context } = sent.body.event as { context: { user_agent: string } };
    expect(context.user_agent).toBe(userAgent.slice(0, 512));
    expect((await eventRows(organizationId))[0]?.userAgent).toBe(userAgent.slice(0, 512));
  });

  it("gives a location however the request came: `unknown` without CF-Connecting-IP (never empty)", async () => {
    const organizationId = newOrg();
    const caller = await createUser({ organizationId });
    const upload = await createUpload(caller);
    const { sent } = await changeAndDeliver(async () =>
      patch(ME, await tokenFor(caller), upload.id, { "CF-Connecting-IP": "" }),
    );
    expect((sent.body.event as { context: unknown }).context).toEqual({ location: "unknown" });
  });

  it("writes the event in the change's own batch: the PATCH is still one D1 round trip", async () => {
    const { organizationId, member } = await team();
    const upload = await createUpload(member);
    const d1 = countingD1(env.DB);
    const response = await call(ME, {
      method: "PATCH",
      token: await tokenFor(member),
      json: { uploadId: upload.id },
      headers: CLIENT,
      env: { DB: d1 },
    });
    expect(response.status).toBe(200);
    expect(d1.roundTrips).toBe(1);
    expect(await eventRows(organizationId)).toHaveLength(1);
  });
});

describe("the audit trail records nothing for what did not change", () => {
  beforeEach(() => {
    mockAuditLog();
  });

  /** Runs `attempt`, which must answer `status`, and checks that no event was written or enqueued. */
  async function expectNothingRecorded(
    organizationId: string,
    status: number,
    attempt: () => Promise<Response>,
  ) {
    let response: Response | undefined;
    const messages = await enqueuedWhile(async () => {
      response = await attempt();
    });
    expect(response?.status).toBe(status);
    expect(messages.filter((message) => message.type === "audit_event")).toEqual([]);
    expect(await eventRows(organizationId)).toEqual([]);
  }

  it("403: a member on a teammate", async () => {
    const { organizationId, admin, member } = await team();
    const upload = await createUpload(member);
    await expectNothingRecorded(organizationId, 403, async () =>
      patch(byId(admin), await tokenFor(member), upload.id),
    );
  });

  it("404: a user of another organization, and someone else's upload", async () => {
    const { organizationId, admin, member } = await team();
    const stranger = await createUser({ organizationId: newOrg() });
    await expectNothingRecorded(organizationId, 404, async () =>
      patch(byId(stranger), await tokenFor(admin), null),
    );
    const theirs = await createUpload(admin);
    await expectNothingRecorded(organizationId, 404, async () =>
      patch(ME, await tokenFor(member), theirs.id),
    );
  });

  it("412: If-Match naming a version the profile has left", async () => {
    const { organizationId, member } = await team();
    const upload = await createUpload(member);
    await expectNothingRecorded(organizationId, 412, async () =>
      call(ME, {
        method: "PATCH",
        token: await tokenFor(member),
        json: { uploadId: upload.id },
        headers: { ...CLIENT, "If-Match": '"v1-0-member-0000000000000000"' },
      }),
    );
  });

  it("422: a body that is not a PATCH, and a PUT whose bytes are not an image", async () => {
    const { organizationId, member } = await team();
    await expectNothingRecorded(organizationId, 422, async () =>
      call(ME, {
        method: "PATCH",
        token: await tokenFor(member),
        json: { uploadId: "nope" },
        headers: CLIENT,
      }),
    );
    const before = await readUser(member.id);
    await expectNothingRecorded(organizationId, 422, async () =>
      call(ME, {
        method: "PUT",
        token: await tokenFor(member),
        body: new TextEncoder().encode("not an image at all"),
        headers: { ...CLIENT, "Content-Type": "image/png" },
      }),
    );
    expect((await readUser(member.id))?.updatedAt).toEqual(before?.updatedAt);
  });

  it("a no-op: setting the photo already set, or removing when none is set", async () => {
    const { organizationId, member } = await team();
    const upload = await createUpload(member);
    await db().update(users).set({ profilePictureUploadId: upload.id }).where(eq(users.id, member.id));
    await expectNothingRecorded(organizationId, 200, async () =>
      patch(ME, await tokenFor(member), upload.id),
    );
    const { member: bare, organizationId: other } = await team();
    await expectNothingRecorded(other, 200, async () => patch(ME, await tokenFor(bare), null));
  });

  it("a token without org_id: no organization's log to record it in", async () => {
    const caller = await createUser({ organizationId: null });
    const upload = await createUpload(caller);
    const before = await db().select().from(auditEvents);
    let status = 0;
    const messages = await enqueuedWhile(async () => {
      status = (await patch(ME, await signToken({ sub: caller.workosUserId }), upload.id)).status;
    });
    expect(status).toBe(200);
    expect((await readUser(caller.id))?.profilePictureUploadId).toBe(upload.id);
    expect(messages).toEqual([]);
    expect(await db().select().from(auditEvents)).toHaveLength(before.length);
  });
});

/** A member's change, written and enqueued, not yet delivered: its event's id and its message. */
async function pendingChange(jobs: Queue = env.JOBS) {
  const { organizationId, member } = await team();
  const upload = await createUpload(member);
  const token = await tokenFor(member);
  const sendBatch = vi.spyOn(jobs, "sendBatch");
  const response = await call(ME, {
    method: "PATCH",
    token,
    json: { uploadId: upload.id },
    headers: CLIENT,
    env: { JOBS: jobs },
  });
  expect(response.status).toBe(200);
  sendBatch.mockRestore();
  const [row, ...others] = await eventRows(organizationId);
  expect(others).toEqual([]);
  if (!row) throw new Error("no event written");
  expect(row.state).toBe("pending");
  const message: JobMessage = { type: "audit_event", id: row.id };
  return { organizationId, member, upload, id: row.id, message };
}

describe("audit events reach WorkOS once each, however many times they are tried", () => {
  it("case 49: retries a 5xx and a network failure with growing delays, every attempt with the change's one key", async () => {
    const { id, message } = await pendingChange();
    let calls = 0;
    const workos = mockAuditLog(() => {
      calls++;
      if (calls === 1) return new Response("upstream broke", { status: 502 });
      if (calls === 2) throw new TypeError("Network connection lost.");
      return created();
    });
    const first = await consume([message], { attempts: 1 });
    expect(first.retries.map((retry) => retry.delaySeconds)).toEqual([5]);
    const second = await consume([message], { attempts: 2 });
    expect(second.retries.map((retry) => retry.delaySeconds)).toEqual([10]);
    expect((await eventRow(id))?.state).toBe("pending");
    const third = await consume([message], { attempts: 3 });
    expect(third.explicitAcks).toEqual(third.ids);
    const keys = (await sentEvents(workos)).map((sent) => sent.idempotencyKey);
    expect(keys).toEqual([id, id, id]);
    expect((await eventRow(id))?.state).toBe("delivered");
    // Delivered: a late redelivery of the same message sends nothing more.
    const late = await consume([message], { attempts: 4 });
    expect(late.explicitAcks).toEqual(late.ids);
    expect(workos.count(EVENTS_URL)).toBe(3);
  });

  it("case 49: waits what a 429's Retry-After asks, and the hourly job leaves the event to that retry", async () => {
    const { id, message } = await pendingChange();
    mockAuditLog(
      () =>
        new Response(JSON.stringify({ message: "Rate limit exceeded" }), {
          status: 429,
          headers: { "Retry-After": "900" },
        }),
    );
    const result = await consume([message], { attempts: 1 });
    expect(result.retries.map((retry) => retry.delaySeconds)).toEqual([900]);
    const row = await eventRow(id);
    expect(row?.state).toBe("pending");
    expect(row?.nextAttemptAt.getTime()).toBeGreaterThanOrEqual(Date.now() + 890_000);
    // Within the retry's wait, the hourly job does not send it again.
    const sent = await enqueuedWhile(() => resendAuditEvents(env, new Date(Date.now() + 600_000)));
    expect(sent.filter((m) => m.type === "audit_event" && m.id === id)).toEqual([]);
  });

  it("case 49: dead-letters a 422 once, with WorkOS's reason logged and kept, and never sends it again", async () => {
    const { id, message } = await pendingChange();
    const workos = mockAuditLog(() =>
      Response.json(
        { message: "Validation failed", errors: [{ field: "metadata.via", code: "invalid_type" }] },
        { status: 422 },
      ),
    );
    const deadLetters = vi.spyOn(env.DEAD_LETTERS, "send");
    const logs = captureLogs();
    const result = await consume([message], { attempts: 1 });
    expect(result.explicitAcks).toEqual(result.ids);
    expect(result.retries).toEqual([]);
    expect(deadLetters).toHaveBeenCalledTimes(1);
    expect(deadLetters.mock.calls[0]?.[0]).toMatchObject({ message, kind: "permanent", attempts: 1 });
    const reason =
      'WorkOS audit logs answered 422: Validation failed; {"field":"metadata.via","code":"invalid_type"}';
    expect(logs).toContainEqual(expect.objectContaining({ outcome: "dead-lettered", reason }));
    const row = await eventRow(id);
    expect(row?.state).toBe("refused");
    expect(row?.refusal).toBe(reason);
    // Neither a redelivery nor the hourly job sends it again.
    await consume([message], { attempts: 2 });
    const resent = await enqueuedWhile(() => resendAuditEvents(env, new Date(Date.now() + 24 * 3600_000)));
    expect(resent.filter((m) => m.type === "audit_event" && m.id === id)).toEqual([]);
    expect(workos.count(EVENTS_URL)).toBe(1);
    expect(deadLetters).toHaveBeenCalledTimes(1);
  });

  it.for([
    { status: 400, message: "Invalid event" },
    { status: 403, message: "Audit Logs is not enabled for this environment" },
    { status: 404, message: "Organization not found" },
  ])(
    "case 49: a $status is refused for good like a 422: dead-lettered once, never sent again",
    async ({ status, message: text }) => {
      const { id, message } = await pendingChange();
      const workos = mockAuditLog(() => Response.json({ message: text }, { status }));
      const deadLetters = vi.spyOn(env.DEAD_LETTERS, "send");
      captureLogs();
      const result = await consume([message], { attempts: 1 });
      expect(result.retries).toEqual([]);
      expect(deadLetters).toHaveBeenCalledTimes(1);
      const row = await eventRow(id);
      expect(row?.state).toBe("refused");
      expect(row?.refusal).toBe(`WorkOS audit logs answered ${status}: ${text}`);
      const resent = await enqueuedWhile(() => resendAuditEvents(env, new Date(Date.now() + 24 * 3600_000)));
      expect(resent.filter((m) => m.type === "audit_event" && m.id === id)).toEqual([]);
      expect(workos.count(EVENTS_URL)).toBe(1);
    },
  );

  it.for([401, 408, 409])(
    "case 49: a %i is worth another try: retried, the event still pending",
    async (status) => {
      const { id, message } = await pendingChange();
      mockAuditLog(() => Response.json({ message: "try again" }, { status }));
      const deadLetters = vi.spyOn(env.DEAD_LETTERS, "send");
      captureLogs();
      const result = await consume([message], { attempts: 1 });
      expect(result.retries.map((retry) => retry.delaySeconds)).toEqual([5]);
      expect(deadLetters).not.toHaveBeenCalled();
      expect((await eventRow(id))?.state).toBe("pending");
    },
  );

  it("a dead letter that came back from the platform leaves the event pending: it is not lost", async () => {
    const { id, message } = await pendingChange();
    mockAuditLog();
    const result = await consume([message], { queue: DEAD_LETTER_QUEUE });
    expect(result.explicitAcks).toEqual(result.ids);
    expect((await eventRow(id))?.state).toBe("pending");
  });

  it("an enqueue that throws: the change stands, and the hourly job sends its event", async () => {
    const { id } = await pendingChange(queueDown);
    const workos = mockAuditLog();
    // Not before its grace: the request's own enqueue may still be on its way.
    const early = await enqueuedWhile(() => resendAuditEvents(env, new Date()));
    expect(early.filter((m) => m.type === "audit_event" && m.id === id)).toEqual([]);
    const resent = await enqueuedWhile(() =>
      resendAuditEvents(env, new Date(Date.now() + AUDIT_RESEND_GRACE_MS + 1000)),
    );
    const mine = resent.filter((m) => m.type === "audit_event" && m.id === id);
    expect(mine).toEqual([{ type: "audit_event", id }]);
    await consume(mine);
    expect((await sentEvents(workos)).map((sent) => sent.idempotencyKey)).toEqual([id]);
    expect((await eventRow(id))?.state).toBe("delivered");
  });

  it("a consumer that dies after WorkOS accepted, before marking it delivered, sends the same key again", async () => {
    const { id, message } = await pendingChange();
    const workos = mockAuditLog();
    const dying = faultyD1(env.DB, [
      { sql: /^update "audit_events" set "state"/, message: "D1_ERROR: internal error", times: 1 },
    ]);
    const first = await consume([message], { attempts: 1, env: { DB: dying.db } });
    expect(first.retries).toHaveLength(1);
    expect((await eventRow(id))?.state).toBe("pending");
    await consume([message], { attempts: 2 });
    expect((await sentEvents(workos)).map((sent) => sent.idempotencyKey)).toEqual([id, id]);
    expect((await eventRow(id))?.state).toBe("delivered");
  });

  it("tries that run out during an outage leave the event pending, and the hourly job sends it again", async () => {
    const { id, message } = await pendingChange();
    mockAuditLog(() => new Response("down", { status: 503 }));
    const deadLetters = vi.spyOn(env.DEAD_LETTERS, "send");
    const last = await consume([message], { attempts: JOB_MAX_ATTEMPTS });
    expect(last.explicitAcks).toEqual(last.ids);
    expect(deadLetters.mock.calls[0]?.[0]).toMatchObject({ kind: "exhausted" });
    expect((await eventRow(id))?.state).toBe("pending");
    const resent = await enqueuedWhile(() =>
      resendAuditEvents(env, new Date(Date.now() + AUDIT_RESEND_GRACE_MS + 1000)),
    );
    expect(resent.filter((m) => m.type === "audit_event" && m.id === id)).toEqual([
      { type: "audit_event", id },
    ]);
    // Taken: the next run does not send it again until it is overdue once more.
    const again = await enqueuedWhile(() =>
      resendAuditEvents(env, new Date(Date.now() + AUDIT_RESEND_GRACE_MS + 2000)),
    );
    expect(again.filter((m) => m.type === "audit_event" && m.id === id)).toEqual([]);
  });
});

describe("a change's event is written once, however its batch is retried", () => {
  it.each([
    { name: "without If-Match", ifMatch: false },
    { name: "with If-Match (the retry misses: the write was its own)", ifMatch: true },
  ])("a reply lost after the batch committed, $name: one event, one message", async ({ ifMatch }) => {
    mockAuditLog();
    const { organizationId, member } = await team();
    const upload = await createUpload(member);
    const token = await tokenFor(member);
    const etag = (await call("/api/v1/users/me", { token })).headers.get("ETag") as string;
    const faulty = faultyD1(env.DB, [
      { sql: /^update "users"/i, message: "D1_ERROR: Network connection lost.", times: 1, when: "after" },
    ]);
    let status = 0;
    const messages = await enqueuedWhile(async () => {
      const response = await call(ME, {
        method: "PATCH",
        token,
        json: { uploadId: upload.id },
        headers: { ...CLIENT, ...(ifMatch ? { "If-Match": etag } : {}) },
        env: { DB: faulty.db },
      });
      status = response.status;
    });
    expect(status).toBe(200);
    expect(faulty.attempts[0]).toBeGreaterThanOrEqual(2);
    const rows = await eventRows(organizationId);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.uploadId).toBe(upload.id);
    expect(messages).toEqual([{ type: "audit_event", id: rows[0]?.id }]);
  });
});

describe("audit events and erasure", () => {
  it("case 50: an event not yet sent holds no name or email: a person deleted meanwhile is named by their WorkOS id", async () => {
    const { member } = await team();
    const upload = await createUpload(member);
    const workos = mockAuditLog();
    const [message] = await enqueuedWhile(async () => patch(ME, await tokenFor(member), upload.id));
    const deleted = await deliverWebhook(workosEvent("user.deleted", workosUserObject(member.workosUserId)));
    expect(deleted.status).toBe(200);
    const row = await eventRow((message as { id: string }).id);
    const stored = JSON.stringify(row).toLowerCase();
    for (const value of ["ada", "lovelace", member.email.toLowerCase()]) expect(stored).not.toContain(value);
    await consume([message]);
    const [sent] = await sentEvents(workos);
    const event = sent?.body.event as { actor: unknown; targets: unknown };
    expect(event.actor).toEqual({ type: "user", id: member.workosUserId, name: member.workosUserId });
    expect(event.targets).toEqual([{ type: "user", id: member.workosUserId, name: member.workosUserId }]);
  });
});

describe("the hourly job forgets settled events", () => {
  it("forgets delivered and refused events after the retention, never a pending one", async () => {
    mockAuditLog();
    const delivered = await pendingChange();
    await consume([delivered.message]);
    const pending = await pendingChange(queueDown);
    const justAfter = new Date(Date.now() + AUDIT_EVENT_RETENTION_MS - 60_000);
    await resendAuditEvents(env, justAfter);
    expect((await eventRow(delivered.id))?.state).toBe("delivered");
    const later = new Date(Date.now() + AUDIT_EVENT_RETENTION_MS + 60_000);
    const { forgotten } = await resendAuditEvents(env, later);
    expect(forgotten).toBeGreaterThanOrEqual(1);
    expect(await eventRow(delivered.id)).toBeUndefined();
    expect((await eventRow(pending.id))?.state).toBe("pending");
  });
});
