import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { memberships, SEARCH_PREFIX_MAX_LENGTH, type User, users } from "../src/db/schema";
import { searchKey } from "../src/identity/provisioning";
import { pageWithCaller } from "../src/routes/users/members-list";
import { call, json } from "./helpers/api";
import { countingD1 } from "./helpers/counting-d1";
import { addMembership, createUpload, createUser, db } from "./helpers/db";
import { expectError, expectValidationErrorAt } from "./helpers/refusals";
import { signToken, tokenFor } from "./helpers/tokens";
import { mockWorkOS } from "./helpers/workos";
import { deliverWebhook, membershipEvent, workosEvent, workosUserObject } from "./helpers/workos-users";

beforeEach(() => {
  mockWorkOS();
});

afterEach(() => vi.restoreAllMocks());

const LIST = "/api/v1/shared/users";
const newOrg = () => `org_${crypto.randomUUID().replaceAll("-", "")}`;

interface Page {
  items: { id: string; firstName: string; lastName: string; email: string; role: string }[];
  nextCursor: string | null;
}

type Params = Record<string, string | undefined>;

async function list(token: string, params: Params = {}, d1?: D1Database) {
  const defined = Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== undefined);
  const query = new URLSearchParams(defined).toString();
  return call(query ? `${LIST}?${query}` : LIST, { token, env: d1 ? { DB: d1 } : {} });
}

async function page(token: string, params: Params = {}): Promise<Page> {
  const response = await list(token, params);
  expect(response.status).toBe(200);
  return json<Page>(response);
}

/** Every page from the first, `between` run after each page but the last. */
async function allPages(token: string, limit: number, between?: (pageNumber: number) => Promise<void>) {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const next: Page = await page(token, { limit: String(limit), ...(cursor ? { cursor } : {}) });
    pages.push(next);
    cursor = next.nextCursor;
    if (cursor) await between?.(pages.length);
  } while (cursor);
  return pages;
}

/** The list's order: last name, first name (ASCII case folded), then id. */
const listOrder = (a: Pick<User, "lastName" | "firstName" | "id">, b: typeof a) => {
  const key = (u: typeof a) => [u.lastName.toLowerCase(), u.firstName.toLowerCase(), u.id];
  const [ka, kb] = [key(a), key(b)];
  for (let i = 0; i < 3; i++) {
    if ((ka[i] as string) < (kb[i] as string)) return -1;
    if ((ka[i] as string) > (kb[i] as string)) return 1;
  }
  return 0;
};

const NAMES = ["ada", "Grace", "alan", "Barbara", "edsger", "Donald", "John", "frances", "Ken", "linus"];

/** `count` members of a new organization with varied (and repeated) names in mixed case. */
async function organizationOf(count: number) {
  const org = newOrg();
  const members: User[] = [];
  for (let i = 0; i < count; i++) {
    members.push(
      await createUser({
        organizationId: org,
        firstName: NAMES[i % NAMES.length] as string,
        lastName: NAMES[(i * 7) % NAMES.length] as string,
      }),
    );
  }
  return { org, members };
}

describe("GET /api/v1/shared/users", () => {
  it("pages through 120 members with limit=50: every member exactly once, in order", async () => {
    const { members } = await organizationOf(120);
    const token = await tokenFor(members[0] as User);

    const pages = await allPages(token, 50);

    expect(pages.map((p) => p.items.length)).toEqual([50, 50, 20]);
    expect(pages.at(-1)?.nextCursor).toBeNull();
    const seen = pages.flatMap((p) => p.items.map((item) => item.id));
    expect(seen).toEqual([...members].sort(listOrder).map((m) => m.id));
  });

  it("pages by 50 when no limit is given: 51 members are a page of 50 and a page of 1", async () => {
    const { members } = await organizationOf(51);
    const token = await tokenFor(members[0] as User);

    const first = await page(token);
    expect(first.items).toHaveLength(50);
    expect(first.nextCursor).toEqual(expect.any(String));
    const last = await page(token, { cursor: first.nextCursor as string });

    expect(last).toEqual({ items: [expect.any(Object)], nextCursor: null });
    const seen = [...first.items, ...last.items].map((item) => item.id);
    expect(seen).toEqual([...members].sort(listOrder).map((m) => m.id));
  });

  it("returns every member exactly once while members are added and removed between pages", async () => {
    const { org, members } = await organizationOf(120);
    const token = await tokenFor(members[0] as User);
    const sorted = [...members].sort(listOrder);
    const removed = new Set<string>();
    const added: User[] = [];

    const pages = await allPages(token, 50, async (pageNumber) => {
      if (pageNumber !== 1) return;
      // Remove one member already listed and one not yet reached; add one sorting first (before
      // the cursor: not listed) and one sorting last (after it: listed).
      for (const gone of [sorted[10], sorted[100]] as User[]) {
        await db()
          .update(memberships)
          .set({ state: "deleted" })
          .where(and(eq(memberships.workosUserId, gone.workosUserId), eq(memberships.organizationId, org)));
        removed.add(gone.id);
      }
      added.push(await createUser({ organizationId: org, firstName: "Aaron", lastName: "Aaa" }));
      added.push(await createUser({ organizationId: org, firstName: "Zed", lastName: "Zzz" }));
    });

    const seen = pages.flatMap((p) => p.items.map((item) => item.id));
    expect(new Set(seen).size).toBe(seen.length);
    const [first, last] = added as [User, User];
    const expected = sorted
      .filter((m) => m.id !== sorted[100]?.id)
      .map((m) => m.id)
      .concat(last.id);
    expect(seen).toEqual(expected);
    expect(seen).toContain(sorted[10]?.id);
    expect(seen).not.toContain(first.id);
  });

  it("lists the caller too, in the token's role, and teammates in their role there", async () => {
    const org = newOrg();
    const caller = await createUser({ organizationId: org, role: "member", lastName: "Caller" });
    await createUser({ organizationId: org, role: "admin", lastName: "Boss" });

    const { items } = await page(await tokenFor(caller, { role: "owner" }));

    expect(items.map((i) => [i.lastName, i.role])).toEqual([
      ["Boss", "admin"],
      ["Caller", "owner"],
    ]);
  });

  it("never lists other organizations, removed or not-active memberships, or deleted and inactive users", async () => {
    const org = newOrg();
    const caller = await createUser({ organizationId: org, lastName: "Caller" });
    await createUser({ organizationId: newOrg(), lastName: "Elsewhere" });
    for (const state of ["inactive", "pending", "deleted"] as const) {
      const user = await createUser({ organizationId: null, lastName: `Membership ${state}` });
      await addMembership(user, org, { state });
    }
    await createUser({ organizationId: org, lastName: "Deleted user", state: "deleted" });
    await createUser({ organizationId: org, lastName: "Inactive user", state: "inactive" });

    const token = await tokenFor(caller);
    const { items } = await page(token);

    expect(items.map((i) => i.lastName)).toEqual(["Caller"]);
    // Every one of them is called Ada: a search finds none of them either.
    expect((await page(token, { q: "ada" })).items.map((i) => i.lastName)).toEqual(["Caller"]);
    for (const q of ["ada membership", "ada deleted", "ada inactive", "ada elsewhere"]) {
      expect((await page(token, { q })).items).toEqual([]);
    }
  });

  it("drops a member whose user is deleted later (the copy on the membership follows the users row)", async () => {
    const { members } = await organizationOf(3);
    const [caller, gone] = members as [User, User];
    await db().update(users).set({ state: "deleted" }).where(eq(users.id, gone.id));

    const { items } = await page(await tokenFor(caller));

    expect(items.map((i) => i.id)).not.toContain(gone.id);
    expect(items).toHaveLength(2);
  });

  it("sorts and searches by the user's current names, after a rename from WorkOS", async () => {
    const { members } = await organizationOf(3);
    const [caller, renamed] = members as [User, User];
    await deliverWebhook(
      workosEvent(
        "user.updated",
        workosUserObject(renamed.workosUserId, {
          first_name: "Zoe",
          last_name: "Zylstra",
          updated_at: new Date().toISOString(),
        }),
      ),
    );

    const token = await tokenFor(caller);
    const { items } = await page(token);
    expect(items.at(-1)).toMatchObject({ id: renamed.id, lastName: "Zylstra" });
    for (const q of ["zyl", "zoe zylstra"]) {
      expect((await page(token, { q })).items.map((i) => i.id)).toEqual([renamed.id]);
    }
    for (const q of ["grace", "frances", "grace frances", renamed.email]) {
      expect((await page(token, { q })).items).toEqual([]);
    }
  });

  describe("search (q)", () => {
    async function searchable() {
      const org = newOrg();
      const people = {
        ada: await createUser({
          organizationId: org,
          firstName: "Ada",
          lastName: "Lovelace",
          email: "countess@example.com",
        }),
        alan: await createUser({
          organizationId: org,
          firstName: "Alan",
          lastName: "Turing",
          email: "alan@bletchley.example",
        }),
        grace: await createUser({
          organizationId: org,
          firstName: "Grace",
          lastName: "Hopper",
          email: "amazing_grace@navy.example",
        }),
        percent: await createUser({
          organizationId: org,
          firstName: "100%",
          lastName: "Sure",
          email: "sure@example.com",
        }),
      };
      return { people, token: await tokenFor(people.ada) };
    }
    const names = (p: Page) => p.items.map((i) => i.firstName);

    it.each([
      ["a first-name prefix, in any case", "AL", ["Alan"]],
      ["a last-name prefix", "hop", ["Grace"]],
      ['"first last"', "ada lov", ["Ada"]],
      ["an email prefix", "countess@", ["Ada"]],
      ["a prefix several match, in list order", "a", ["Grace", "Ada", "Alan"]],
      ["the middle of a name (not a prefix)", "ove", []],
      ["% as itself, not a wildcard", "100%", ["100%"]],
      ["% alone (no one's name starts with it)", "%", []],
      ["a prefix longer than 50 bytes", "amazing_grace@navy.example".padEnd(60, "x"), []],
      ["_ as itself, not a wildcard", "amazing_", ["Grace"]],
      ["_ that would match any one character", "a_a", []],
      ["a backslash", "\\", []],
    ])("matches %s", async (_, q, expected) => {
      const { token } = await searchable();
      expect(names(await page(token, { q }))).toEqual(expected);
    });

    /** A caller and two members whose names lower-case beyond ASCII. */
    async function beyondAscii() {
      const org = newOrg();
      const caller = await createUser({ organizationId: org, firstName: "Zed", lastName: "Zulu" });
      const elodie = await createUser({ organizationId: org, firstName: "Élodie", lastName: "Ébert" });
      const lukasz = await createUser({ organizationId: org, firstName: "łukasz", lastName: "ŁOŚ" });
      return { token: await tokenFor(caller), caller, elodie, lukasz };
    }

    it.for([
      { q: "élodie", finds: "elodie" },
      { q: "ÉLO", finds: "elodie" },
      { q: "łoś", finds: "lukasz" },
      { q: "ŁUKASZ ł", finds: "lukasz" },
    ] as const)("ignores case beyond ASCII in search: q=$q finds $finds", async ({ q, finds }) => {
      const members = await beyondAscii();
      expect((await page(members.token, { q })).items.map((i) => i.id)).toEqual([members[finds].id]);
    });

    it("ignores case beyond ASCII in the order", async () => {
      const { token, caller, elodie, lukasz } = await beyondAscii();
      // Keys compare by code point after lower-casing: z < é < ł.
      expect((await page(token)).items.map((i) => i.id)).toEqual([caller.id, elodie.id, lukasz.id]);
    });

    /**
     * The members whose keys start with `q` (`searchKey`ed), in list order, by comparing every listed
     * member's keys as the search did before it read `member_search_prefixes`: the reference the
     * prefixes must agree with.
     */
    async function everyMemberCompared(org: string, q: string): Promise<string[]> {
      const { results } = await env.DB.prepare(
        `SELECT m.user_id AS id FROM memberships m JOIN users u ON u.id = m.user_id
         WHERE m.organization_id = ?1 AND m.state = 'active' AND m.user_state = 'active'
           AND (substr(m.first_name_key, 1, length(?2)) = ?2 OR substr(m.last_name_key, 1, length(?2)) = ?2
             OR substr(m.first_name_key || ' ' || m.last_name_key, 1, length(?2)) = ?2
             OR substr(m.email_key, 1, length(?2)) = ?2)
         ORDER BY m.last_name_key, m.first_name_key, m.user_id`,
      )
        .bind(org, searchKey(q))
        .all<{ id: string }>();
      return results.map((row) => row.id);
    }

    /** Names and emails across scripts and lengths, some sharing their first SEARCH_PREFIX_MAX_LENGTH characters. */
    const PEOPLE: [firstName: string, lastName: string, email: string][] = [
      ["Ada", "Lovelace", "countess@example.com"],
      ["Alan", "Turing", "alan@bletchley.example"],
      ["Grace", "Hopper", "amazing_grace@navy.example"],
      ["100%", "Sure", "sure@example.com"],
      ["Back\\slash", "Person", "bs@example.com"],
      ["Élodie", "Ébert", "elodie@example.fr"],
      ["Émile", "Zola", "emile.zola@example.fr"],
      ["Jürgen", "Weiß", "juergen.weiss@example.de"],
      ["Anna", "Straße", "anna@example.de"],
      ["Дмитрий", "Иванов", "dmitry@example.ru"],
      ["Иван", "Петров", "ivan@example.ru"],
      ["Christopher", "Alexanderson", "christopher.alexanderson@example.com"],
      ["Christina", "Alexandrova", "christina.alexandrova@example.com"],
      // Letters outside the BMP: one code point, two UTF-16 units each.
      ["X𝓐𝓭𝓪", "Script", "script@example.com"],
      ["", "Nofirst", "nofirst@example.com"],
    ];

    it.for([
      { q: "AL", finds: 3, what: "a first-name and last-name prefix, in any case" },
      { q: "hop", finds: 1, what: "a last-name prefix" },
      { q: "ada lov", finds: 1, what: '"first last", with its space' },
      { q: "countess@", finds: 1, what: "an email prefix" },
      { q: "a", finds: 6, what: "one character, several keys" },
      { q: "christ", finds: 2, what: `exactly ${SEARCH_PREFIX_MAX_LENGTH} characters` },
      {
        q: "christo",
        finds: 1,
        what: `${SEARCH_PREFIX_MAX_LENGTH + 1} characters, two members sharing the first ${SEARCH_PREFIX_MAX_LENGTH}`,
      },
      { q: "alexand", finds: 2, what: "longer than the prefixes, both sharing it" },
      { q: "alexande", finds: 1, what: "longer than the prefixes, one of them" },
      { q: "Christopher Alexanderson", finds: 1, what: 'a whole "first last"' },
      { q: "christina.alexandrova@", finds: 1, what: "a long email prefix" },
      { q: "lovela", finds: 1, what: "a last name to the prefixes' length" },
      { q: "lovelac", finds: 1, what: "a last name one past it" },
      { q: "ÉLO", finds: 1, what: "É folded to é" },
      { q: "é", finds: 2, what: "é alone" },
      { q: "weiß", finds: 1, what: "ß" },
      { q: "WEIẞ", finds: 1, what: "capital ẞ folded to ß" },
      { q: "STRASSE", finds: 0, what: "ss, which is not ß" },
      { q: "дми", finds: 1, what: "Cyrillic" },
      { q: "ДМИТРИЙ И", finds: 1, what: 'Cyrillic "first last", folded, longer than the prefixes' },
      { q: "иван", finds: 2, what: "a Cyrillic first name and the start of another's last name" },
      { q: "x𝓐𝓭𝓪", finds: 1, what: "characters outside the BMP (4 characters, 7 UTF-16 units)" },
      { q: "x𝓐𝓭𝓪 scr", finds: 1, what: "characters outside the BMP, longer than the prefixes" },
      { q: " nof", finds: 1, what: 'a space first: the "first last" of a member without a first name' },
      { q: "100%", finds: 1, what: "% as itself" },
      { q: "%", finds: 0, what: "% alone" },
      { q: "amazing_", finds: 1, what: "_ as itself" },
      { q: "a_a", finds: 0, what: "_ that would match any one character" },
      { q: "back\\", finds: 1, what: "a backslash" },
      { q: "\\", finds: 0, what: "a backslash alone" },
      { q: "Back\\slash P", finds: 1, what: "a backslash, longer than the prefixes" },
      { q: "zz", finds: 0, what: "no one" },
      { q: "ove", finds: 0, what: "the middle of a name" },
      { q: "amazing_grace@navy.example".padEnd(60, "x"), finds: 0, what: "no one, 60 characters" },
    ])("finds what comparing every member's keys finds, in its order: $what (q=$q)", async ({ q, finds }) => {
      const org = newOrg();
      const members: User[] = [];
      for (const [firstName, lastName, email] of PEOPLE) {
        members.push(await createUser({ organizationId: org, firstName, lastName, email }));
      }

      const { items } = await page(await tokenFor(members[0] as User), { q, limit: "100" });

      const found = items.map((i) => i.id);
      expect(found).toEqual(await everyMemberCompared(org, q));
      expect(found).toHaveLength(finds);
    });

    it("pages through a search with limit=2: every match once, in order, while members are added, renamed and removed", async () => {
      const org = newOrg();
      const member = (firstName: string, lastName: string) =>
        createUser({
          organizationId: org,
          firstName,
          lastName,
          email: `${firstName}.${lastName}@example.com`,
        });
      const caller = await member("Zed", "Caller");
      const people = {
        mary: await member("Mary", "Adams"),
        max: await member("Max", "Baker"),
        mateo: await member("Mateo", "Clark"),
        anna: await member("Anna", "Madsen"),
        omar: await member("Omar", "Malik"),
        lena: await member("Lena", "Marsh"),
        tom: await member("Tom", "Mason"),
        maria: await member("Maria", "Novak"),
        mark: await member("Mark", "Owens"),
        martha: await member("Martha", "Price"),
        bob: await member("Bob", "Smith"),
        mae: await member("Mae", "Young"),
      };
      const token = await tokenFor(caller);
      const rename = (user: User, first_name: string, last_name: string) =>
        deliverWebhook(
          workosEvent(
            "user.updated",
            workosUserObject(user.workosUserId, {
              first_name,
              last_name,
              updated_at: new Date().toISOString(),
            }),
          ),
        );
      const added: User[] = [];

      const seen: string[] = [];
      let cursor: string | null = null;
      for (let pageNumber = 1; pageNumber === 1 || cursor; pageNumber++) {
        const next: Page = await page(token, { q: "ma", limit: "2", ...(cursor ? { cursor } : {}) });
        seen.push(...next.items.map((i) => i.id));
        cursor = next.nextCursor;
        if (pageNumber !== 1) continue;
        // After Adams and Baker: one added before the cursor (not listed), one after it (listed); a
        // match renamed away and a non-match renamed in; and a removal of each kind.
        added.push(await member("Mabel", "Aaron"), await member("Malcolm", "Zimmer"));
        await rename(people.mateo, "Teo", "Clark");
        await rename(people.bob, "Mario", "Smith");
        await deliverWebhook(
          membershipEvent("deleted", people.anna, org, { updated_at: new Date().toISOString() }),
        );
        await db()
          .update(memberships)
          .set({ state: "inactive" })
          .where(
            and(eq(memberships.workosUserId, people.omar.workosUserId), eq(memberships.organizationId, org)),
          );
        await deliverWebhook(workosEvent("user.deleted", { id: people.lena.workosUserId }));
        await db()
          .delete(memberships)
          .where(
            and(eq(memberships.workosUserId, people.tom.workosUserId), eq(memberships.organizationId, org)),
          );
        await db().update(users).set({ state: "inactive" }).where(eq(users.id, people.mary.id));
      }

      const [, malcolm] = added as [User, User];
      const { max, mary, maria, mark, martha, bob, mae } = people;
      expect(seen).toEqual([mary, max, maria, mark, martha, bob, mae, malcolm].map((m) => m.id));
    });

    it.for(["active", "inactive", "pending"] as const)(
      "finds a membership inserted with the user's copies already on it only when it is active: %s",
      async (state) => {
        // memberships_copy_user then changes nothing, so the insert's own trigger writes the prefixes.
        const org = newOrg();
        const caller = await createUser({ organizationId: org, firstName: "Zed", lastName: "Caller" });
        const user = await createUser({ organizationId: null, firstName: "Whole", lastName: "Insert" });
        await db().insert(memberships).values({
          workosUserId: user.workosUserId,
          organizationId: org,
          role: "member",
          state,
          changedAt: new Date(),
          userId: user.id,
          userState: "active",
          firstNameKey: user.firstNameKey,
          lastNameKey: user.lastNameKey,
          emailKey: user.emailKey,
        });

        const found = (await page(await tokenFor(caller), { q: "whole" })).items.map((i) => i.id);

        expect(found).toEqual(state === "active" ? [user.id] : []);
      },
    );

    it.for([
      {
        how: "their membership is deleted by WorkOS",
        remove: (user: User, org: string) =>
          deliverWebhook(membershipEvent("deleted", user, org, { updated_at: new Date().toISOString() })),
      },
      {
        how: "their membership is inactive",
        remove: (user: User, org: string) =>
          db()
            .update(memberships)
            .set({ state: "inactive" })
            .where(and(eq(memberships.workosUserId, user.workosUserId), eq(memberships.organizationId, org))),
      },
      {
        how: "their membership row is gone",
        remove: (user: User, org: string) =>
          db()
            .delete(memberships)
            .where(and(eq(memberships.workosUserId, user.workosUserId), eq(memberships.organizationId, org))),
      },
      {
        how: "their user is deleted by WorkOS",
        remove: (user: User) => deliverWebhook(workosEvent("user.deleted", { id: user.workosUserId })),
      },
      {
        how: "their user is inactive",
        remove: (user: User) => db().update(users).set({ state: "inactive" }).where(eq(users.id, user.id)),
      },
    ])("drops a member from searches at once when $how", async ({ remove }) => {
      const org = newOrg();
      const caller = await createUser({ organizationId: org, firstName: "Zed", lastName: "Caller" });
      const gone = await createUser({ organizationId: org, firstName: "Wilhelmina", lastName: "Goneaway" });
      const token = await tokenFor(caller);
      const queries = ["wil", "wilhelmina", "goneaway", "wilhelmina gone", gone.email];
      for (const q of queries) expect((await page(token, { q })).items.map((i) => i.id)).toEqual([gone.id]);

      await remove(gone, org);

      for (const q of queries) expect((await page(token, { q })).items).toEqual([]);
    });

    it("pages through search results too", async () => {
      const { members } = await organizationOf(30);
      const token = await tokenFor(members[0] as User);
      const matching = members.filter(
        (m) => m.firstName.toLowerCase().startsWith("a") || m.lastName.toLowerCase().startsWith("a"),
      );
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const next: Page = await page(token, { q: "a", limit: "2", ...(cursor ? { cursor } : {}) });
        seen.push(...next.items.map((i) => i.id));
        cursor = next.nextCursor;
      } while (cursor);
      expect(seen).toEqual(matching.sort(listOrder).map((m) => m.id));
    });
  });

  describe("a token without org_id, or a caller no longer in the organization", () => {
    it("lists the caller alone, when q lets them in", async () => {
      const { members } = await organizationOf(5);
      const caller = members[0] as User;
      const token = await signToken({ sub: caller.workosUserId });

      const alone = await page(token);
      expect(alone).toEqual({
        items: [expect.objectContaining({ id: caller.id, role: "member" })],
        nextCursor: null,
      });
      expect((await page(token, { q: caller.firstName.toUpperCase() })).items).toHaveLength(1);
      expect((await page(token, { q: "nobody-starts-like-this" })).items).toEqual([]);
    });

    it("lists the removed caller alone, with their still-valid token", async () => {
      const { org, members } = await organizationOf(5);
      const caller = members[0] as User;
      const token = await tokenFor(caller);
      await db()
        .update(memberships)
        .set({ state: "deleted", changedAt: new Date(Date.now() + 5_000) })
        .where(and(eq(memberships.workosUserId, caller.workosUserId), eq(memberships.organizationId, org)));

      const { items } = await page(token);

      expect(items.map((i) => i.id)).toEqual([caller.id]);
    });
  });

  describe("D1 round trips", () => {
    it("makes exactly 1 per page: the caller check rides in the page's statement", async () => {
      const { members } = await organizationOf(12);
      const token = await tokenFor(members[0] as User);
      let cursor: string | null = null;
      for (const params of [{ limit: "5" }, { limit: "5" }, { q: "nobody" }, { q: "ada", limit: "1" }]) {
        const d1 = countingD1(env.DB);
        const response = await list(token, { ...params, ...(cursor ? { cursor } : {}) }, d1);
        expect(response.status).toBe(200);
        cursor = (await json<Page>(response)).nextCursor;
        expect(d1.trips).toHaveLength(1);
        expect(d1.trips[0]).toMatch(
          /^select .* from "users" "caller" left join "memberships" "caller_membership"/i,
        );
      }
    });

    it("makes exactly 1 for a token without org_id", async () => {
      const user = await createUser();
      const d1 = countingD1(env.DB);
      const response = await list(await signToken({ sub: user.workosUserId }), {}, d1);
      expect(response.status).toBe(200);
      expect(d1.roundTrips).toBe(1);
    });
  });

  describe("rows read (D1's meta.rows_read of the statement the service sends)", () => {
    /**
     * `count` active members of a new organization, inserted by SQL (thousands in a second), every
     * one matching "mem" (last names Member00001, ...), each through the triggers as any membership is.
     */
    async function organizationOfSize(count: number) {
      const org = newOrg();
      await env.DB.prepare(
        `INSERT INTO users (id, workos_user_id, email, first_name, last_name, first_name_key, last_name_key,
                            email_key, state, created_at, updated_at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
         SELECT lower(hex(randomblob(16))), ?1 || '_' || i, 'user' || i || '@example.com',
                'First' || i, 'Member' || printf('%05d', i), 'first' || i, 'member' || printf('%05d', i),
                'user' || i || '@example.com', 'active', 0, 0
         FROM n`,
      )
        .bind(org, count)
        .run();
      await env.DB.prepare(
        `INSERT INTO memberships (workos_user_id, organization_id, role, state, changed_at)
         SELECT workos_user_id, ?1, 'member', 'active', 0 FROM users
         WHERE workos_user_id >= ?1 || '_' AND workos_user_id < ?1 || '_~'`,
      )
        .bind(org)
        .run();
      return { org, caller: `${org}_1`, token: await signToken({ sub: `${org}_1`, org_id: org }) };
    }

    /** Rows read by the page statement the service sends for `params`, run again with the same values. */
    async function rowsRead(token: string, params: Params): Promise<number> {
      const d1 = countingD1(env.DB);
      expect((await list(token, params, d1)).status).toBe(200);
      const sent = d1.statements.find(({ sql }) => /^select .* from "users" "caller"/i.test(sql));
      if (!sent) throw new Error("no page statement sent");
      const { meta } = await env.DB.prepare(sent.sql)
        .bind(...sent.params)
        .all();
      return meta.rows_read;
    }

    const LIMIT = 50;
    // Each member on the page (and the one past it) is an index entry and its users row; then the
    // caller's row and membership, the same two for the check that withholds the page, and the seek
    // to a cursor.
    const MOST = 2 * (LIMIT + 1) + 5;

    it("reads at most 2 × (limit + 1) + 5 rows, as many with 4,000 members as with 1,000, with q or without", async () => {
      /** Rows read by each kind of page in an organization of `size`, each within its bound. */
      async function pagesOf(size: number) {
        const { token } = await organizationOfSize(size);
        const cursorAfterFirst = async (params: Params) => (await page(token, params)).nextCursor as string;
        const cases: { name: string; params: Params; most: number }[] = [
          { name: "no q", params: {}, most: MOST },
          { name: "no q, after a cursor", params: { cursor: await cursorAfterFirst({}) }, most: MOST },
          { name: "q matching every member", params: { q: "mem" }, most: MOST },
          {
            name: "q matching every member, after a cursor",
            params: { q: "mem", cursor: await cursorAfterFirst({ q: "mem" }) },
            most: MOST,
          },
          { name: "q matching no one", params: { q: "zz" }, most: 5 },
          {
            name: `q longer than ${SEARCH_PREFIX_MAX_LENGTH} characters, matching every member`,
            params: { q: "member0" },
            most: MOST,
          },
        ];
        const read = new Map<string, number>();
        for (const { name, params, most } of cases) {
          const rows = await rowsRead(token, { limit: String(LIMIT), ...params });
          expect(rows, `${name}, ${size} members`).toBeLessThanOrEqual(most);
          read.set(name, rows);
        }
        return read;
      }

      expect(await pagesOf(4000)).toEqual(await pagesOf(1000));
    });

    it("rewrites only the renamed member's prefixes, and none for keys written unchanged: as many rows with 4,000 members as with 1,000", async () => {
      const costs: { read: number; written: number }[] = [];
      for (const size of [1000, 4000]) {
        const { caller } = await organizationOfSize(size);
        // A write of the same keys (every user.updated writes them all) moves no prefix: it writes the
        // user's row and the membership's copy (SQLite writes an updated row, changed or not), no more.
        const unchanged = await env.DB.prepare(
          "UPDATE users SET first_name_key = first_name_key, email_key = email_key WHERE workos_user_id = ?",
        )
          .bind(caller)
          .run();
        expect(unchanged.meta.rows_written).toBeLessThanOrEqual(3);
        const { meta } = await env.DB.prepare(
          "UPDATE users SET first_name = 'Renamed', first_name_key = 'renamed' WHERE workos_user_id = ?",
        )
          .bind(caller)
          .run();
        costs.push({ read: meta.rows_read, written: meta.rows_written });
      }
      const [small, large] = costs as [{ read: number; written: number }, { read: number; written: number }];
      expect(large).toEqual(small);
      // The four keys' prefixes out and in again, and the user's and membership's rows and index
      // entries; read, a few rows a prefix (the lengths enumerated, each old row sought): never the
      // organization's thousand.
      expect(small.written).toBeLessThanOrEqual(2 * 4 * SEARCH_PREFIX_MAX_LENGTH + 10);
      expect(small.read).toBeLessThanOrEqual(8 * 4 * SEARCH_PREFIX_MAX_LENGTH);
    });

    it("withholds the page from a caller no longer an active member: the statement returns their row alone", async () => {
      const { org, caller } = await organizationOfSize(10);
      await env.DB.prepare("UPDATE memberships SET state = 'deleted' WHERE workos_user_id = ?")
        .bind(caller)
        .run();
      for (const q of [undefined, "mem"]) {
        const { sql, params } = pageWithCaller(db(), caller, org, {
          q,
          limit: LIMIT,
          after: undefined,
        }).toSQL();
        const rows = await env.DB.prepare(sql)
          .bind(...params)
          .raw();
        expect(rows, String(q)).toHaveLength(1);
      }
    });
  });

  describe("the caller", () => {
    it("is provisioned just in time and recorded as a member on the first request", async () => {
      const { org, members } = await organizationOf(3);
      const sub = `user_${crypto.randomUUID().replaceAll("-", "")}`;
      mockWorkOS({
        "https://workos-api.test/user_management/users/": () =>
          Response.json({
            object: "user",
            id: sub,
            email: "new@example.com",
            email_verified: true,
            first_name: "New",
            last_name: "Comer",
            created_at: "2026-01-02T03:04:05.000Z",
            updated_at: "2026-01-02T03:04:05.000Z",
          }),
      });

      const { items } = await page(await signToken({ sub, org_id: org }));

      expect(items).toHaveLength(members.length + 1);
      expect(items.map((i) => i.lastName)).toContain("Comer");
    });

    it.for([
      { state: "deleted", status: 401, code: "unauthenticated" },
      { state: "inactive", status: 403, code: "user_inactive" },
    ] as const)(
      "case 22: is $status $code when $state, with or without org_id",
      async ({ state, status, code }) => {
        const user = await createUser({ state });
        await expectError(await list(await tokenFor(user)), status, code);
        await expectError(await list(await signToken({ sub: user.workosUserId })), status, code);
      },
    );

    it("is 401 without a valid token", async () => {
      await expectError(await call(LIST), 401, "unauthenticated");
    });
  });

  describe("bad query parameters are 422 with loc [query, name]", () => {
    it.each([
      ["limit", "0"],
      ["limit", "101"],
      ["limit", "-1"],
      ["limit", "abc"],
      ["limit", "1.5"],
      ["limit", ""],
      ["q", ""],
      ["q", "x".repeat(101)],
      ["cursor", "not a cursor"],
      ["cursor", btoa(JSON.stringify({ a: 1 }))],
      ["cursor", btoa(JSON.stringify(["a", "b"]))],
      ["cursor", btoa(JSON.stringify(["a", "b", 3]))],
      ["cursor", "%%%"],
      ["cursor", ""],
    ])("%s=%s", async (name, value) => {
      const user = await createUser();
      const response = await call(`${LIST}?${name}=${encodeURIComponent(value)}`, {
        token: await tokenFor(user),
      });
      await expectValidationErrorAt(response, ["query", name]);
    });

    it.for([
      { name: "limit=1", params: { limit: "1" } },
      { name: "limit=100", params: { limit: "100" } },
      { name: "q of 100 characters", params: { q: "x".repeat(100) } },
    ])("accepts $name", async ({ params }) => {
      const user = await createUser();
      expect((await list(await tokenFor(user), params)).status).toBe(200);
    });
  });

  it("answers profiles with presigned photos, no-store, and is described in /openapi.json", async () => {
    const { members } = await organizationOf(2);
    const [caller, teammate] = members as [User, User];
    const upload = await createUpload(teammate);
    await db().update(users).set({ profilePictureUploadId: upload.id }).where(eq(users.id, teammate.id));

    const response = await list(await tokenFor(caller));

    expect(response.headers.get("Cache-Control")).toBe("no-store");
    const { items } = await json<{ items: Record<string, unknown>[] }>(response);
    const shown = items.find((i) => i.id === teammate.id);
    expect(shown).toMatchObject({ hasCustomProfilePicture: true });
    expect(shown?.profilePictureUrl).toContain(`/uploads/${upload.id}/thumb-256.webp?`);

    const spec = await json<{
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    }>(await call("/openapi.json"));
    const get = spec.paths["/api/v1/shared/users"]?.get;
    expect(Object.keys(get?.responses ?? {}).sort()).toEqual([
      "200",
      "401",
      "403",
      "422",
      "429",
      "500",
      "503",
    ]);
  });
});
