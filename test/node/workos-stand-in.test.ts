import { describe, expect, it, type TestContext } from "vitest";
import { DEV_WORKOS_API_KEY } from "../../scripts/dev-keys.mjs";
import { serveWorkOSApi } from "../../scripts/lib/workos-stand-in.mjs";
import { freePort } from "./helpers/dev-server";

/** npm run dev's WorkOS stand-in on a free port until the test ends, and the lines it printed. */
async function standIn({ onTestFinished }: TestContext) {
  const lines: string[] = [];
  const port = await freePort();
  const server = await serveWorkOSApi(port, { log: (line: string) => lines.push(line) });
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${port}`, lines };
}

const UPDATED = {
  organization_id: "org_01DEMO000000000000000000",
  event: {
    action: "profile_picture.updated",
    occurred_at: "2026-11-01T12:00:00.000Z",
    version: 1,
    actor: { type: "user", id: "user_01ADMIN", name: "Ada Lovelace" },
    targets: [{ type: "user", id: "user_01TEAMMATE", name: "Grace Hopper" }],
    context: { location: "203.0.113.7", user_agent: "curl/8.5.0" },
    metadata: {
      upload_id: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
      previous_upload_id: "0f8fad5b-d9cb-4f8f-9b0b-2a3f1c1d7e35",
      via: "patch",
    },
  },
};
const REMOVED = {
  ...UPDATED,
  event: {
    ...UPDATED.event,
    action: "profile_picture.removed",
    actor: { type: "user", id: "user_01TEAMMATE", name: "Grace Hopper" },
    metadata: { upload_id: "", previous_upload_id: "7c9e6679-7425-40de-944b-e07fc1f90ae7", via: "put" },
  },
};

const authorized = { authorization: `Bearer ${DEV_WORKOS_API_KEY}`, "content-type": "application/json" };

async function postEvent(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/audit_logs/events`, {
    method: "POST",
    headers: { ...authorized, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

describe("npm run dev's WorkOS stand-in: audit log events (POST /audit_logs/events)", () => {
  it("takes each event with 201 and prints it as one line: who, on whom, where, how, and its key", async (context) => {
    const { url, lines } = await standIn(context);
    expect(await postEvent(url, UPDATED, { "idempotency-key": "key-1" })).toEqual({
      status: 201,
      body: { success: true },
    });
    expect(await postEvent(url, REMOVED, { "idempotency-key": "key-2" })).toEqual({
      status: 201,
      body: { success: true },
    });
    expect(lines).toEqual([
      "audit: profile_picture.updated by user_01ADMIN on user_01TEAMMATE in org_01DEMO000000000000000000 " +
        "(via patch, upload 7c9e6679-7425-40de-944b-e07fc1f90ae7, previous upload 0f8fad5b-d9cb-4f8f-9b0b-2a3f1c1d7e35) key key-1",
      "audit: profile_picture.removed by user_01TEAMMATE on user_01TEAMMATE in org_01DEMO000000000000000000 " +
        "(via put, previous upload 7c9e6679-7425-40de-944b-e07fc1f90ae7) key key-2",
    ]);
  });

  it("answers a repeated Idempotency-Key as the first time and records it once, saying it was a repeat", async (context) => {
    const { url, lines } = await standIn(context);
    for (let attempt = 0; attempt < 2; attempt++) {
      expect(await postEvent(url, UPDATED, { "idempotency-key": "retried" })).toEqual({
        status: 201,
        body: { success: true },
      });
    }
    expect(await postEvent(url, REMOVED, { "idempotency-key": "retried" })).toEqual({
      status: 201,
      body: { success: true },
    });
    expect(lines).toEqual([
      expect.stringMatching(/^audit: profile_picture\.updated by user_01ADMIN .* key retried$/),
      "audit: repeat of key retried: not recorded again (WorkOS deduplicates by Idempotency-Key)",
      "audit: repeat of key retried, with a different event: not recorded again (WorkOS deduplicates by Idempotency-Key)",
    ]);
  });

  const refused: [
    what: string,
    headers: Record<string, string>,
    body: unknown,
    status: number,
    message: RegExp,
  ][] = [
    ["no Authorization", { authorization: "", "idempotency-key": "k" }, UPDATED, 401, /Unauthorized/],
    [
      "another API key",
      { authorization: "Bearer sk_test_other", "idempotency-key": "k" },
      UPDATED,
      401,
      /Unauthorized/,
    ],
    ["no Idempotency-Key", {}, UPDATED, 400, /^Idempotency-Key header is required/],
    ["a body that is not JSON", { "idempotency-key": "k" }, "{not json", 400, /^the body is not valid JSON$/],
    [
      "no organization_id",
      { "idempotency-key": "k" },
      { event: UPDATED.event },
      400,
      /^organization_id is required$/,
    ],
    [
      "no event.action",
      { "idempotency-key": "k" },
      { ...UPDATED, event: { ...UPDATED.event, action: "" } },
      400,
      /^event\.action is required$/,
    ],
    [
      "an empty context.location",
      { "idempotency-key": "k" },
      { ...UPDATED, event: { ...UPDATED.event, context: { location: "" } } },
      400,
      /^event\.context\.location is required$/,
    ],
  ];
  it("reads a body as bytes, so a character split between two chunks arrives whole", async (context) => {
    const { url, lines } = await standIn(context);
    const bytes = new TextEncoder().encode(
      JSON.stringify({ ...UPDATED, event: { ...UPDATED.event, actor: { type: "user", id: "user_01ÄDA" } } }),
    );
    const split = bytes.indexOf(0xc3) + 1; // between the two bytes of Ä
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(bytes.slice(0, split));
        await new Promise((resolve) => setTimeout(resolve, 50));
        controller.enqueue(bytes.slice(split));
        controller.close();
      },
    });
    const response = await fetch(`${url}/audit_logs/events`, {
      method: "POST",
      headers: { ...authorized, "idempotency-key": "split" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(201);
    expect(lines[0]).toMatch(/^audit: profile_picture\.updated by user_01ÄDA on /);
  });

  for (const [what, headers, body, status, message] of refused) {
    it(`answers ${status} with a WorkOS-like message, recording nothing, on ${what}`, async (context) => {
      const { url, lines } = await standIn(context);
      const answer = await postEvent(url, body, headers);
      expect(answer.status).toBe(status);
      expect(answer.body).toEqual({ message: expect.stringMatching(message) });
      expect(lines).toEqual([]);
    });
  }
});

describe("npm run dev's WorkOS stand-in: audit log schemas (/audit_logs/actions/{action}/schemas)", () => {
  it("creates versions 1, 2, … of an action's schema and lists them either way round", async (context) => {
    const { url, lines } = await standIn(context);
    const schemas = `${url}/audit_logs/actions/profile_picture.updated/schemas`;
    expect((await fetch(schemas, { headers: authorized })).status).toBe(404);

    const bodies = [{ targets: [{ type: "user" }] }, { targets: [{ type: "user" }, { type: "team" }] }];
    for (const [index, body] of bodies.entries()) {
      const created = await fetch(schemas, {
        method: "POST",
        headers: authorized,
        body: JSON.stringify(body),
      });
      expect(created.status).toBe(201);
      expect(await created.json()).toMatchObject({ object: "audit_log_schema", version: index + 1, ...body });
    }
    const versions = async (query: string) => {
      const { data } = await (await fetch(`${schemas}${query}`, { headers: authorized })).json();
      return data.map((schema: { version: number }) => schema.version);
    };
    expect(await versions("?order=asc&limit=100")).toEqual([1, 2]);
    expect(await versions("")).toEqual([2, 1]);
    expect(await versions("?order=asc&limit=1")).toEqual([1]);
    expect(lines).toEqual([
      "audit: schema version 1 of profile_picture.updated created",
      "audit: schema version 2 of profile_picture.updated created",
    ]);
  });

  it("answers 404 to an action with a malformed escape, and goes on serving", async (context) => {
    const { url } = await standIn(context);
    for (const method of ["GET", "POST"]) {
      const malformed = await fetch(`${url}/audit_logs/actions/profile_picture.%E0%A4%A/schemas`, {
        method,
        headers: authorized,
        ...(method === "POST" ? { body: JSON.stringify({ targets: [{ type: "user" }] }) } : {}),
      });
      expect(malformed.status).toBe(404);
    }
    const schemas = `${url}/audit_logs/actions/profile_picture.updated/schemas`;
    expect((await fetch(schemas, { headers: authorized })).status).toBe(404);
  });

  it("answers 404 to a user id with a malformed escape, and goes on serving", async (context) => {
    const { url } = await standIn(context);
    const malformed = await fetch(`${url}/user_management/users/user_%E0%A4%A`, { headers: authorized });
    expect(malformed.status).toBe(404);
    const user = await fetch(`${url}/user_management/users/user_01DEMO000000000000000000`, {
      headers: authorized,
    });
    expect(user.status).toBe(200);
  });

  it("refuses a schema without targets with 422, and any call without the dev key with 401", async (context) => {
    const { url } = await standIn(context);
    const schemas = `${url}/audit_logs/actions/profile_picture.updated/schemas`;
    const noTargets = await fetch(schemas, { method: "POST", headers: authorized, body: "{}" });
    expect({ status: noTargets.status, body: await noTargets.json() }).toEqual({
      status: 422,
      body: { message: "targets must be a non-empty list of { type }" },
    });
    const anonymous = await fetch(schemas, {
      method: "POST",
      body: JSON.stringify({ targets: [{ type: "user" }] }),
    });
    expect(anonymous.status).toBe(401);
    expect((await fetch(schemas, { headers: authorized })).status).toBe(404);
  });
});
