import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { memberships, type User } from "../src/db/schema";
import { call, json } from "./helpers/api";
import { changedBefore } from "./helpers/counting-d1";
import { addMembership, createUpload, createUser, db, readMembership, readUser } from "./helpers/db";
import { expectError, expectUnchanged } from "./helpers/refusals";
import { ISSUER, signRaw, tokenFor, trustedKid } from "./helpers/tokens";
import { mockWorkOS } from "./helpers/workos";
import {
  deliverWebhook,
  membershipEvent,
  workosMembershipObject as membershipObject,
  workosEvent,
  workosUserObject,
} from "./helpers/workos-users";

beforeEach(() => {
  mockWorkOS();
});

afterEach(() => vi.restoreAllMocks());

const ME = "/api/v1/users/me";
const sharedUser = (id: string) => `/api/v1/shared/users/${id}`;
const sharedPicture = (id: string) => `/api/v1/shared/users/${id}/profile-picture`;
const newOrg = () => `org_${crypto.randomUUID().replaceAll("-", "")}`;

const T1 = "2026-11-21T10:00:00.000Z";
const T2 = "2026-11-22T10:00:00.000Z";
const T3 = "2026-11-23T10:00:00.000Z";

/** A teammate's PATCH with `token`: sets one of the caller's ready uploads on `target`. */
async function setPhoto(token: string, caller: User, target: User) {
  const upload = await createUpload(caller);
  return call(sharedPicture(target.id), { method: "PATCH", token, json: { uploadId: upload.id } });
}

describe("authority comes from the token alone", () => {
  it("an admin's next token without role is a member: 403 on a teammate's PATCH, role member on /users/me", async () => {
    const org = newOrg();
    const admin = await createUser({ role: "admin", organizationId: org });
    const teammate = await createUser({ organizationId: org });
    const withoutRole = await tokenFor(admin, { role: undefined });

    await expectError(await setPhoto(withoutRole, admin, teammate), 403, "forbidden");
    await expectUnchanged(teammate);
    const me = await call(ME, { token: withoutRole });
    expect((await json(me)).role).toBe("member");
  });

  it("an admin's next token without org_id has no teammates: 404 on their profile and PATCH", async () => {
    const org = newOrg();
    const admin = await createUser({ role: "admin", organizationId: org });
    const teammate = await createUser({ organizationId: org });
    const withoutOrg = await tokenFor(admin, { org_id: undefined });

    await expectError(await call(sharedUser(teammate.id), { token: withoutOrg }), 404, "user_not_found");
    await expectError(await setPhoto(withoutOrg, admin, teammate), 404, "user_not_found");
    await expectUnchanged(teammate);
    // Itself it still sees, and may act on.
    expect((await call(sharedUser(admin.id), { token: withoutOrg })).status).toBe(200);
  });

  it("the same admin with an admin token again gets 200", async () => {
    const org = newOrg();
    const admin = await createUser({ role: "admin", organizationId: org });
    const teammate = await createUser({ organizationId: org });
    await setPhoto(await tokenFor(admin, { role: undefined }), admin, teammate);
    await setPhoto(await tokenFor(admin, { org_id: undefined }), admin, teammate);

    const response = await setPhoto(await tokenFor(admin), admin, teammate);

    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({
      id: teammate.id,
      role: "member",
      hasCustomProfilePicture: true,
    });
    expect((await call(sharedUser(teammate.id), { token: await tokenFor(admin) })).status).toBe(200);
  });
});

describe("the role shown for a teammate", () => {
  it("is each teammate's own role in the token's organization, also in the PATCH's answer", async () => {
    const org = newOrg();
    const admin = await createUser({ role: "admin", organizationId: org });
    const teammates = [];
    for (const role of ["member", "editor", "billing"])
      teammates.push(await createUser({ role, organizationId: org }));
    const token = await tokenFor(admin);

    for (const [i, teammate] of teammates.entries()) {
      const role = ["member", "editor", "billing"][i];
      expect(await json(await setPhoto(token, admin, teammate))).toMatchObject({ id: teammate.id, role });
      expect(await json(await call(sharedUser(teammate.id), { token }))).toMatchObject({ role });
    }
    const own = await call(`${sharedPicture(admin.id)}`, {
      method: "PATCH",
      token,
      json: { uploadId: null },
    });
    expect(await json(own)).toMatchObject({ id: admin.id, role: "admin" });
  });
});

describe("a user in two organizations", () => {
  async function twoOrganizations() {
    const [a, b] = [newOrg(), newOrg()];
    const consultant = await createUser({ organizationId: a, role: "member" });
    await addMembership(consultant, b, { role: "admin" });
    return {
      a,
      b,
      consultant,
      adminA: await createUser({ organizationId: a, role: "admin" }),
      adminB: await createUser({ organizationId: b, role: "admin" }),
      memberA: await createUser({ organizationId: a }),
      memberB: await createUser({ organizationId: b }),
    };
  }

  it("is a teammate in both: admins of each may act, members of each see them, in the role they have there", async () => {
    const { consultant, adminA, adminB, memberA, memberB } = await twoOrganizations();

    for (const admin of [adminA, adminB]) {
      const response = await setPhoto(await tokenFor(admin), admin, consultant);
      expect(response.status).toBe(200);
    }
    const seenByA = await json(await call(sharedUser(consultant.id), { token: await tokenFor(memberA) }));
    const seenByB = await json(await call(sharedUser(consultant.id), { token: await tokenFor(memberB) }));
    expect(seenByA).toMatchObject({ id: consultant.id, role: "member" });
    expect(seenByB).toMatchObject({ id: consultant.id, role: "admin" });
  });

  it("acts in the organization its token names: an admin in B, a member in A", async () => {
    const { b, a, consultant, memberA, memberB } = await twoOrganizations();

    const inB = await setPhoto(await tokenFor(consultant, { org_id: b, role: "admin" }), consultant, memberB);
    expect(inB.status).toBe(200);
    const inA = await setPhoto(
      await tokenFor(consultant, { org_id: a, role: "member" }),
      consultant,
      memberA,
    );
    await expectError(inA, 403, "forbidden");
    // A's member is no teammate of a token for B.
    const crossed = await setPhoto(
      await tokenFor(consultant, { org_id: b, role: "admin" }),
      consultant,
      memberA,
    );
    await expectError(crossed, 404, "user_not_found");
  });

  it("organization_membership.deleted for A makes them 404 to A's admins and members at once, while B goes on", async () => {
    const { a, consultant, adminA, adminB, memberA, memberB } = await twoOrganizations();
    const before = (await readUser(consultant.id)) as User;
    // Their token for A, issued before the removal and still valid after it.
    const staleA = await tokenFor(consultant, { org_id: a, role: "admin" });

    expect((await deliverWebhook(membershipEvent("deleted", consultant, a, { updated_at: T2 }))).status).toBe(
      200,
    );

    await expectError(await setPhoto(await tokenFor(adminA), adminA, consultant), 404, "user_not_found");
    for (const viewer of [adminA, memberA]) {
      await expectError(
        await call(sharedUser(consultant.id), { token: await tokenFor(viewer) }),
        404,
        "user_not_found",
      );
    }
    await expectUnchanged(before);
    // That token sees none of A's members and acts on none.
    await expectError(await call(sharedUser(memberA.id), { token: staleA }), 404, "user_not_found");
    await expectError(await setPhoto(staleA, consultant, memberA), 404, "user_not_found");
    // B is untouched.
    expect((await setPhoto(await tokenFor(adminB), adminB, consultant)).status).toBe(200);
    expect((await call(sharedUser(consultant.id), { token: await tokenFor(memberB) })).status).toBe(200);
  });

  it("a token issued before the removal does not restore the membership", async () => {
    const { a, consultant, adminA } = await twoOrganizations();
    const issuedBefore = await tokenFor(consultant, { org_id: a, iat: Math.floor(Date.now() / 1000) - 30 });
    const removal = membershipEvent("deleted", consultant, a, { updated_at: new Date().toISOString() });
    expect((await deliverWebhook(removal)).status).toBe(200);

    for (const path of [ME, `/api/v1/shared/users`]) {
      expect((await call(path, { token: issuedBefore })).status).toBe(200);
    }
    expect(await readMembership(consultant, a)).toMatchObject({ state: "deleted" });
    await expectError(
      await call(sharedUser(consultant.id), { token: await tokenFor(adminA) }),
      404,
      "user_not_found",
    );
  });

  it("a token issued after a re-invitation brings them back (the newer change wins)", async () => {
    const { a, consultant, adminA } = await twoOrganizations();
    const removedAt = new Date(Date.now() - 20_000).toISOString();
    const removal = workosEvent(
      "organization_membership.deleted",
      membershipObject(consultant, a, { updated_at: removedAt }),
      { created_at: removedAt },
    );
    expect((await deliverWebhook(removal)).status).toBe(200);
    expect(await readMembership(consultant, a)).toMatchObject({ state: "deleted" });

    expect((await call(ME, { token: await tokenFor(consultant, { org_id: a }) })).status).toBe(200);

    expect(await readMembership(consultant, a)).toMatchObject({ state: "active" });
    expect((await call(sharedUser(consultant.id), { token: await tokenFor(adminA) })).status).toBe(200);
  });
});

describe("recording the token's membership", () => {
  it("never overwrites a removal that lands between its read and its write", async () => {
    const org = newOrg();
    const user = await createUser({ organizationId: org, role: "member" });
    // The token's role differs, so the request reads the membership and then writes it; the removal
    // arrives in between, newer than the token.
    const removeFirst = changedBefore(env.DB, /^insert into "memberships"/i, () =>
      db()
        .update(memberships)
        .set({ state: "deleted", changedAt: new Date(Date.now() + 10_000) })
        .where(and(eq(memberships.workosUserId, user.workosUserId), eq(memberships.organizationId, org))),
    );

    const response = await call(ME, {
      token: await tokenFor(user, { role: "admin" }),
      env: { DB: removeFirst },
    });

    expect(response.status).toBe(200);
    expect(await readMembership(user, org)).toMatchObject({ state: "deleted", role: "member" });
    const teammates = await json<{ items: unknown[] }>(
      await call("/api/v1/shared/users", { token: await tokenFor(user, { role: "admin" }) }),
    );
    expect(teammates.items).toHaveLength(1);
  });
});

describe("organization_membership webhooks", () => {
  it("created makes a teammate, with the role's slug; updated changes the role; only status active counts", async () => {
    const org = newOrg();
    const admin = await createUser({ role: "admin", organizationId: org });
    const user = await createUser({ organizationId: null });
    const viewer = await tokenFor(admin);
    await expectError(await call(sharedUser(user.id), { token: viewer }), 404, "user_not_found");

    await deliverWebhook(membershipEvent("created", user, org, { role: { slug: "billing" } }));
    expect(await json(await call(sharedUser(user.id), { token: viewer }))).toMatchObject({ role: "billing" });

    await deliverWebhook(membershipEvent("updated", user, org, { role: { slug: "admin" }, updated_at: T2 }));
    expect(await json(await call(sharedUser(user.id), { token: viewer }))).toMatchObject({ role: "admin" });

    for (const [status, at] of [
      ["inactive", T3],
      ["pending", "2026-11-24T10:00:00.000Z"],
    ]) {
      await deliverWebhook(membershipEvent("updated", user, org, { status, updated_at: at }));
      await expectError(await call(sharedUser(user.id), { token: viewer }), 404, "user_not_found");
      expect(await readMembership(user, org)).toMatchObject({ state: status });
    }
  });

  it("dates a deletion no earlier than its event: it outranks a token issued after the membership's last update", async () => {
    const org = newOrg();
    const user = await createUser({ organizationId: null });
    // Recorded from a token issued 10 s ago; WorkOS's updated_at of the membership is older still.
    const token = await tokenFor(user, { org_id: org, iat: Math.floor(Date.now() / 1000) - 10 });
    expect((await call(ME, { token })).status).toBe(200);
    expect(await readMembership(user, org)).toMatchObject({ state: "active" });

    const removal = membershipEvent("deleted", user, org, { updated_at: T1 });
    expect((await deliverWebhook(removal)).status).toBe(200);

    expect(await readMembership(user, org)).toMatchObject({ state: "deleted" });
  });

  it("ignores an older event after a newer one, and a repeated event", async () => {
    const org = newOrg();
    const user = await createUser({ organizationId: null });
    const removed = membershipEvent("deleted", user, org, { updated_at: T3 });
    const olderUpdate = membershipEvent("updated", user, org, { role: { slug: "admin" }, updated_at: T2 });
    const created = membershipEvent("created", user, org, { updated_at: T1 });

    expect((await deliverWebhook(removed)).status).toBe(200);
    const afterRemoval = await readMembership(user, org);
    for (const event of [olderUpdate, created, removed, olderUpdate]) {
      expect((await deliverWebhook(event)).status).toBe(200);
      expect(await readMembership(user, org)).toEqual(afterRemoval);
    }
    expect(afterRemoval).toMatchObject({ state: "deleted" });
  });

  it.for([
    {
      name: "created at T0, deleted at T1, deleted at T3, then a delayed re-creation at T2",
      history: [
        ["created", "active", "2026-11-20T10:00:00.000Z"],
        ["deleted", "active", T1],
        ["deleted", "active", T3],
        ["created", "active", T2],
      ],
      state: "deleted",
    },
    {
      name: "active at T0, inactive at T1, inactive at T3, then a delayed active at T2",
      history: [
        ["updated", "active", "2026-11-20T10:00:00.000Z"],
        ["updated", "inactive", T1],
        ["updated", "inactive", T3],
        ["updated", "active", T2],
      ],
      state: "inactive",
    },
  ] as const)(
    "keeps the time of the newest event even when it changed nothing, so an older one delivered later loses: $name",
    async ({ history, state }) => {
      const org = newOrg();
      const admin = await createUser({ role: "admin", organizationId: org });
      const user = await createUser({ organizationId: null });

      for (const [type, status, at] of history) {
        // A deletion is dated by its event too: the event is sent when it happened.
        const event = workosEvent(
          `organization_membership.${type}`,
          membershipObject(user, org, { status, updated_at: at }),
          { created_at: at },
        );
        expect((await deliverWebhook(event)).status).toBe(200);
      }

      expect(await readMembership(user, org)).toMatchObject({ state, changedAt: new Date(T3) });
      const token = await tokenFor(admin);
      await expectError(await call(sharedUser(user.id), { token }), 404, "user_not_found");
      await expectError(await setPhoto(token, admin, user), 404, "user_not_found");
      const page = await json<{ items: { id: string }[] }>(await call("/api/v1/shared/users", { token }));
      expect(page.items.map((item) => item.id)).toEqual([admin.id]);
    },
  );

  it("a token that agrees with the stored membership writes nothing, and one older than the newest event changes nothing", async () => {
    const org = newOrg();
    const user = await createUser({ organizationId: null });
    const created = workosEvent("organization_membership.created", membershipObject(user, org), {
      created_at: T1,
    });
    expect((await deliverWebhook(created)).status).toBe(200);
    const recorded = await readMembership(user, org);

    // Newer than the event, and saying the same: no write, so the event's time stays.
    expect((await call(ME, { token: await tokenFor(user, { org_id: org }) })).status).toBe(200);
    expect(await readMembership(user, org)).toEqual(recorded);

    // A removal dated now, then a token issued before it: the removal and its time stand.
    const removedAt = new Date().toISOString();
    const removal = workosEvent(
      "organization_membership.deleted",
      membershipObject(user, org, { updated_at: removedAt }),
      { created_at: removedAt },
    );
    expect((await deliverWebhook(removal)).status).toBe(200);
    const older = await tokenFor(user, {
      org_id: org,
      role: "admin",
      iat: Math.floor(Date.now() / 1000) - 60,
    });
    expect((await call(ME, { token: older })).status).toBe(200);
    expect(await readMembership(user, org)).toMatchObject({
      state: "deleted",
      changedAt: new Date(removedAt),
    });
  });

  it("applies a redelivered event once: a change made meanwhile is not undone", async () => {
    const org = newOrg();
    const user = await createUser({ organizationId: null });
    const created = membershipEvent("created", user, org, { role: { slug: "admin" }, updated_at: T2 });
    expect((await deliverWebhook(created)).status).toBe(200);
    // Change the row behind WorkOS's back, dated before the event: only the event id can stop the
    // replay from applying again.
    await db()
      .update(memberships)
      .set({ role: "member", changedAt: new Date(T1) })
      .where(and(eq(memberships.workosUserId, user.workosUserId), eq(memberships.organizationId, org)));
    const before = await readMembership(user, org);

    expect((await deliverWebhook(created)).status).toBe(200);

    expect(await readMembership(user, org)).toEqual(before);
  });

  it("keeps a membership that arrives before its user, and the user is a teammate once created", async () => {
    const org = newOrg();
    const admin = await createUser({ role: "admin", organizationId: org });
    const id = `user_${crypto.randomUUID().replaceAll("-", "")}`;
    const early = { workosUserId: id } as User;
    expect((await deliverWebhook(membershipEvent("created", early, org))).status).toBe(200);
    expect(await readMembership(early, org)).toMatchObject({ state: "active", userId: null });

    await deliverWebhook(workosEvent("user.created", workosUserObject(id, { first_name: "Late" })));

    const page = await json<{ items: { id: string; firstName: string }[] }>(
      await call("/api/v1/shared/users?q=late", { token: await tokenFor(admin) }),
    );
    expect(page.items.map((item) => item.firstName)).toEqual(["Late"]);
    const user = await readMembership(early, org);
    expect(user).toMatchObject({ userState: "active", firstNameKey: "late" });
    expect((await call(sharedUser(user?.userId as string), { token: await tokenFor(admin) })).status).toBe(
      200,
    );
  });

  it.for(["user_id", "organization_id", "updated_at", "status"])(
    "answers 400 to a membership event without %s, writing nothing",
    async (missing) => {
      const org = newOrg();
      const user = await createUser({ organizationId: null });
      const event = membershipEvent("created", user, org, { [missing]: undefined });
      expect((await deliverWebhook(event)).status).toBe(400);
      expect(await readMembership(user, org)).toBeUndefined();
    },
  );

  it("needs the token's iat to record a membership: a token without one records nothing", async () => {
    const org = newOrg();
    const user = await createUser({ organizationId: null });
    const now = Math.floor(Date.now() / 1000);
    const token = await signRaw(
      { alg: "RS256", kid: trustedKid },
      { sub: user.workosUserId, iss: ISSUER, exp: now + 300, org_id: org },
    );
    expect((await call(ME, { token })).status).toBe(200);
    expect(await readMembership(user, org)).toBeUndefined();
  });
});
