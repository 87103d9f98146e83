import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { memberships, type User, users } from "../src/db/schema";
import { call, json } from "./helpers/api";
import { countingD1 } from "./helpers/counting-d1";
import { createUser, db, readMembership, readUser } from "./helpers/db";
import { signToken, tokenFor } from "./helpers/tokens";
import { mockWorkOS, WORKOS_API_URL } from "./helpers/workos";
import { newWorkOSUserId, WORKOS_API_KEY, workosUserObject } from "./helpers/workos-users";

const USERS_API = `${WORKOS_API_URL}/user_management/users/`;

afterEach(() => vi.restoreAllMocks());

const rowsFor = (workosUserId: string) =>
  db().select().from(users).where(eq(users.workosUserId, workosUserId)).all();

/** WorkOS knows exactly these users; anyone else is a 404. */
function workosKnows(...known: ReturnType<typeof workosUserObject>[]) {
  return mockWorkOS({
    [USERS_API]: (request) => {
      const id = decodeURIComponent(new URL(request.url).pathname.split("/").pop() ?? "");
      const user = known.find((u) => u.id === id);
      return user ? Response.json(user) : Response.json({ message: "User not found" }, { status: 404 });
    },
  });
}

/** Run a request for a user D1 has never seen while WorkOS answers with `responder`. */
async function firstRequestWith(responder: (request: Request) => Response | Promise<Response>) {
  const sub = newWorkOSUserId();
  const workos = mockWorkOS({ [USERS_API]: responder });
  const response = await call("/api/v1/users/me", { token: await signToken({ sub, org_id: "org_acme" }) });
  return { sub, workos, response };
}

describe("just-in-time provisioning", () => {
  it("provisions a user WorkOS knows on their first request, mapping the WorkOS user object", async () => {
    const sub = newWorkOSUserId();
    const workos = workosKnows(workosUserObject(sub, { last_name: null, email_verified: false }));

    const response = await call("/api/v1/users/me", {
      token: await signToken({ sub, org_id: "org_jit", role: "admin" }),
    });

    expect(response.status).toBe(200);
    const body = await json(response);
    expect(body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      email: `${sub.toLowerCase()}@example.com`,
      emailVerified: false,
      firstName: "Grace",
      lastName: "",
      profilePictureUrl: `https://workoscdn.com/images/${sub}.png`,
      role: "admin",
      state: "active",
      lastLogin: "2026-11-20T08:00:00.000Z",
      createdAt: "2026-01-02T03:04:05.000Z",
      hasCustomProfilePicture: false,
      // The WorkOS picture is on its way through the queue: until it is imported, initials.
      avatarUrl: expect.stringMatching(/^https:\/\/api\.test\/avatars\/initials\/[^/]+\.png$/),
      avatarSource: "initials",
    });
    const [row] = await rowsFor(sub);
    expect(row).toMatchObject({
      id: body.id,
      workosUpdatedAt: new Date("2026-11-20T08:00:00.000Z"),
      profilePictureUploadId: null,
    });
    expect(await readMembership(row as User, "org_jit")).toMatchObject({
      role: "admin",
      state: "active",
      userId: body.id,
      userState: "active",
    });

    expect(workos.count(USERS_API)).toBe(1);
    const request = workos.requests.find((r) => r.url.startsWith(USERS_API)) as Request;
    expect(request.method).toBe("GET");
    expect(request.url).toBe(`${USERS_API}${sub}`);
    expect(request.headers.get("authorization")).toBe(`Bearer ${WORKOS_API_KEY}`);
    expect(request.redirect).toBe("manual");
  });

  it("gives a provisioned user the role member when the token carries no role, and no membership without org_id", async () => {
    const sub = newWorkOSUserId();
    workosKnows(workosUserObject(sub));

    const response = await call("/api/v1/users/me", { token: await signToken({ sub }) });

    expect(response.status).toBe(200);
    expect((await json(response)).role).toBe("member");
    expect(await db().select().from(memberships).where(eq(memberships.workosUserId, sub))).toEqual([]);
  });

  it("does not call WorkOS again once the user exists", async () => {
    const sub = newWorkOSUserId();
    const workos = workosKnows(workosUserObject(sub));
    const token = await signToken({ sub, org_id: "org_acme" });

    const first = await call("/api/v1/users/me", { token });
    const second = await call("/api/v1/users/me", { token });

    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect((await json(second)).id).toBe((await json(first)).id);
    expect(workos.count(USERS_API)).toBe(1);
  });

  it("case 40: makes one row when several first requests of a new user arrive at once", async () => {
    const sub = newWorkOSUserId();
    workosKnows(workosUserObject(sub));
    const token = await signToken({ sub, org_id: "org_acme" });

    const responses = await Promise.all(Array.from({ length: 6 }, () => call("/api/v1/users/me", { token })));

    expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    const ids = new Set(await Promise.all(responses.map(async (r) => (await json(r)).id)));
    expect(ids.size).toBe(1);
    expect(await rowsFor(sub)).toHaveLength(1);
  });

  it("lets a provisioned user use the other endpoints straight away", async () => {
    const sub = newWorkOSUserId();
    workosKnows(workosUserObject(sub));
    const token = await signToken({ sub, org_id: "org_acme" });

    const response = await call("/api/v1/users/me/profile-picture", {
      method: "PATCH",
      token,
      json: { uploadId: null },
    });

    expect(response.status).toBe(200);
    expect((await json(response)).email).toBe(`${sub.toLowerCase()}@example.com`);
  });

  it("URL-encodes the token's sub in the WorkOS request", async () => {
    const sub = "user_a/../b?x=1#y";
    const workos = workosKnows(workosUserObject(sub));

    const response = await call("/api/v1/users/me", { token: await signToken({ sub }) });

    expect(response.status).toBe(200);
    expect(workos.requests.map((r) => r.url)).toContain(`${USERS_API}user_a%2F..%2Fb%3Fx%3D1%23y`);
    await db().delete(users).where(eq(users.workosUserId, sub));
  });

  it("returns 401 when WorkOS does not know the user, and writes nothing", async () => {
    const { sub, response } = await firstRequestWith(() =>
      Response.json({ message: "User not found" }, { status: 404 }),
    );

    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toBe('Bearer error="invalid_token"');
    expect(await json(response)).toEqual({ detail: "Not authenticated.", code: "unauthenticated" });
    expect(await rowsFor(sub)).toHaveLength(0);
  });

  it.each([
    ["answers 500", () => Response.json({ message: "oops" }, { status: 500 })],
    ["answers 429", () => new Response("slow down", { status: 429 })],
    ["answers 401 (our key is wrong)", () => Response.json({ message: "Unauthorized" }, { status: 401 })],
    ["answers with a body that is not JSON", () => new Response("<html>gateway</html>", { status: 200 })],
    ["answers JSON that is not a user", () => Response.json({ data: [] })],
    ["answers with another user", () => Response.json(workosUserObject(newWorkOSUserId()))],
    [
      "answers with a malformed created_at",
      (r: Request) =>
        Response.json(
          workosUserObject(decodeURIComponent(r.url.split("/").pop() ?? ""), { created_at: "yesterday" }),
        ),
    ],
    ["cannot be reached", () => Promise.reject(new TypeError("Network connection lost."))],
  ])("returns 503 with Retry-After when WorkOS %s, and writes nothing", async (_, responder) => {
    const { sub, response } = await firstRequestWith(responder);

    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
    expect((await json(response)).code).toBe("unavailable");
    expect(await rowsFor(sub)).toHaveLength(0);
  });

  it("does not follow a redirect from WorkOS: 503, nothing written, the key goes nowhere else", async () => {
    const { sub, workos, response } = await firstRequestWith(
      () => new Response(null, { status: 302, headers: { Location: "https://elsewhere.test/steal" } }),
    );

    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(workos.count("https://elsewhere.test")).toBe(0);
    expect(await rowsFor(sub)).toHaveLength(0);
  });

  it("gives up on a WorkOS that never answers: 503 within the timeout, nothing written", async () => {
    let aborted = false;
    const started = Date.now();
    const { sub, response } = await firstRequestWith(
      (request) =>
        new Promise<Response>((_, reject) => {
          request.signal.addEventListener("abort", () => {
            aborted = true;
            reject(request.signal.reason);
          });
        }),
    );

    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(aborted).toBe(true);
    expect(Date.now() - started).toBeLessThan(6_000);
    expect(await rowsFor(sub)).toHaveLength(0);
  }, 10_000);

  it("never puts the WorkOS API key in a log line or a response", async () => {
    const logged: unknown[] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args) => void logged.push(...args));
    }
    const { response } = await firstRequestWith(() =>
      Response.json({ message: `bad key ${WORKOS_API_KEY}` }, { status: 500 }),
    );

    expect(response.status).toBe(503);
    expect(await response.text()).not.toContain(WORKOS_API_KEY);
    expect(logged.length).toBeGreaterThan(0);
    expect(JSON.stringify(logged.map(String))).not.toContain(WORKOS_API_KEY);
  });

  it("refuses the token of a deleted user with 401 without asking WorkOS", async () => {
    const user = await createUser({ state: "deleted" });
    const workos = workosKnows(workosUserObject(user.workosUserId));

    const response = await call("/api/v1/users/me", {
      token: await signToken({ sub: user.workosUserId, org_id: "org_acme" }),
    });

    expect(response.status).toBe(401);
    expect(workos.count(USERS_API)).toBe(0);
    expect(await readUser(user.id)).toEqual(user);
  });
});

describe("the token decides; its membership is recorded", () => {
  it("answers the token's role and records it over an older membership", async () => {
    const user = await createUser({ role: "member" });
    mockWorkOS();
    const token = await tokenFor(user, { role: "admin" });

    const response = await call("/api/v1/users/me", { token });

    expect(response.status).toBe(200);
    expect((await json(response)).role).toBe("admin");
    const membership = await readMembership(user, "org_acme");
    expect(membership).toMatchObject({ role: "admin", state: "active" });
    const iat = JSON.parse(atob((token.split(".")[1] as string).replace(/-/g, "+").replace(/_/g, "/"))).iat;
    expect(membership?.changedAt).toEqual(new Date(iat * 1000));
  });

  it("records a second organization as a second membership, keeping the first", async () => {
    const user = await createUser({ organizationId: "org_acme" });
    mockWorkOS();

    const response = await call("/api/v1/users/me", {
      token: await tokenFor(user, { org_id: "org_globex" }),
    });

    expect(response.status).toBe(200);
    expect(await readMembership(user, "org_acme")).toMatchObject({ state: "active" });
    expect(await readMembership(user, "org_globex")).toMatchObject({ state: "active", role: "member" });
  });

  it("writes nothing when the token's membership is recorded as it says", async () => {
    const user = await createUser({ role: "admin", organizationId: "org_acme" });
    const membership = await readMembership(user, "org_acme");
    mockWorkOS();

    const response = await call("/api/v1/users/me", { token: await tokenFor(user) });

    expect(response.status).toBe(200);
    expect(await readUser(user.id)).toEqual(user);
    expect(await readMembership(user, "org_acme")).toEqual(membership);
  });

  it("answers role member to a token without role or org_id, whatever was recorded, and writes nothing", async () => {
    const user = await createUser({ role: "admin", organizationId: "org_acme" });
    const membership = await readMembership(user, "org_acme");
    mockWorkOS();

    const response = await call("/api/v1/users/me", { token: await signToken({ sub: user.workosUserId }) });

    expect(response.status).toBe(200);
    expect((await json(response)).role).toBe("member");
    expect(await readUser(user.id)).toEqual(user);
    expect(await readMembership(user, "org_acme")).toEqual(membership);
  });

  it("does not let a token issued before the membership's last change change it", async () => {
    const user = await createUser({ role: "member" });
    await db()
      .update(memberships)
      .set({ changedAt: new Date(Date.now() + 30_000) })
      .where(eq(memberships.workosUserId, user.workosUserId));
    const membership = await readMembership(user, "org_acme");
    mockWorkOS();

    const response = await call("/api/v1/users/me", { token: await tokenFor(user, { role: "admin" }) });

    // The token still decides what this request may do; it just does not rewrite the record.
    expect((await json(response)).role).toBe("admin");
    expect(await readMembership(user, "org_acme")).toEqual(membership);
  });

  it("costs a known user whose membership is recorded exactly one D1 statement", async () => {
    const user = await createUser({ role: "member", organizationId: "org_acme" });
    mockWorkOS();
    const d1 = countingD1(env.DB);

    const response = await call("/api/v1/users/me", { token: await tokenFor(user), env: { DB: d1 } });

    expect(response.status).toBe(200);
    expect(d1.trips).toHaveLength(1);
    expect(d1.trips[0]).toMatch(/^select .* from "users" left join "memberships"/i);
  });

  it("costs a known user whose role changed one read and one conditional write", async () => {
    const user = await createUser({ role: "member", organizationId: "org_acme" });
    mockWorkOS();
    const d1 = countingD1(env.DB);

    const response = await call("/api/v1/users/me", {
      token: await tokenFor(user, { role: "admin" }),
      env: { DB: d1 },
    });

    expect(response.status).toBe(200);
    expect(d1.trips).toHaveLength(2);
    expect(d1.trips[1]).toMatch(/^insert into "memberships" .* on conflict .* do update .* where/i);
  });
});
