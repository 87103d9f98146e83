import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { searchKeysToRefold, type User, users } from "../src/db/schema";
import worker from "../src/index";
import { REFOLD_LIMITS, refoldSearchKeys, worstCaseRefoldQueries } from "../src/jobs/search-keys";
import { D1_QUERIES_PER_INVOCATION } from "../src/jobs/storage-cleanup";
import { MAX_ATTEMPTS } from "../src/lib/d1";
import { call, json } from "./helpers/api";
import { countingD1 } from "./helpers/counting-d1";
import { createUser, db, readMembership, readUser } from "./helpers/db";
import { faultyD1 } from "./helpers/faulty-d1";
import { tokenFor } from "./helpers/tokens";
import { mockWorkOS } from "./helpers/workos";

beforeEach(() => {
  mockWorkOS();
});
afterEach(() => vi.restoreAllMocks());

const newOrg = () => `org_${crypto.randomUUID().replaceAll("-", "")}`;

/**
 * A user as migration 0003 left the ones already there: keys folded by SQLite's `lower()`, ASCII
 * only, and recorded for the job by migration 0016.
 */
async function foldedByAsciiLower(overrides: Partial<User>, organizationId: string) {
  const user = await createUser({ ...overrides, organizationId });
  const asciiLower = (text: string) => text.replace(/[A-Z]/g, (c) => c.toLowerCase());
  await db()
    .update(users)
    .set({
      firstNameKey: asciiLower(user.firstName),
      lastNameKey: asciiLower(user.lastName),
      emailKey: asciiLower(user.email),
    })
    .where(eq(users.id, user.id));
  await db().insert(searchKeysToRefold).values({ userId: user.id });
  return (await readUser(user.id)) as User;
}

async function search(token: string, q: string) {
  const response = await call(`/api/v1/shared/users?q=${encodeURIComponent(q)}`, { token });
  expect(response.status).toBe(200);
  return (await json<{ items: { id: string }[] }>(response)).items.map((item) => item.id);
}

const stillRecorded = async (user: User) =>
  (await db().query.searchKeysToRefold.findFirst({ where: eq(searchKeysToRefold.userId, user.id) })) !==
  undefined;

describe("refolding the search keys SQLite folded ASCII-only (the hourly job)", () => {
  it("folds them with the whole of Unicode, on the user and their memberships: a lower-case search finds them", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    const org = newOrg();
    const elodie = await foldedByAsciiLower(
      { firstName: "Élodie", lastName: "Ångström", email: "ÉLODIE@example.com" },
      org,
    );
    const token = await tokenFor(elodie);
    expect(elodie).toMatchObject({ firstNameKey: "Élodie", lastNameKey: "Ångström" });
    expect(await search(token, "élodie")).toEqual([]);

    await refoldSearchKeys(env);

    expect(await readUser(elodie.id)).toEqual({
      ...elodie,
      firstNameKey: "élodie",
      lastNameKey: "ångström",
      emailKey: "élodie@example.com",
    });
    expect(await readMembership(elodie, org)).toMatchObject({
      firstNameKey: "élodie",
      lastNameKey: "ångström",
      emailKey: "élodie@example.com",
    });
    for (const q of ["élodie", "ÅNGSTRÖM", "élodie ång", "élodie@"])
      expect(await search(token, q)).toEqual([elodie.id]);
    expect(await stillRecorded(elodie)).toBe(false);
  });

  it("leaves alone a user renamed since it read them, whose keys the rename wrote, and forgets them", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    const org = newOrg();
    const user = await foldedByAsciiLower({ firstName: "Émile" }, org);
    let renamed: User | undefined;
    // The rename lands between the job's read and its write.
    const renaming = {
      ...env.DB,
      withSession: (start?: string) => {
        const session = env.DB.withSession(start);
        return {
          prepare: (query: string) => session.prepare(query),
          batch: async (statements: D1PreparedStatement[]) => {
            await db()
              .update(users)
              .set({ firstName: "Zoé", firstNameKey: "zoé" })
              .where(eq(users.id, user.id));
            renamed = await readUser(user.id);
            return session.batch(statements);
          },
          getBookmark: () => session.getBookmark(),
        };
      },
    } as D1Database;

    await refoldSearchKeys({ ...env, DB: renaming }, { batchSize: 1000, maxBatches: 1 });

    expect(renamed).toMatchObject({ firstName: "Zoé", firstNameKey: "zoé" });
    expect(await readUser(user.id)).toEqual(renamed);
    expect(await stillRecorded(user)).toBe(false);
  });

  it("takes bounded batches, leaves the rest for the next run, and runs on the :47 cron after the backlog", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const org = newOrg();
    const folded = [];
    for (let i = 0; i < 3; i++) folded.push(await foldedByAsciiLower({ firstName: `Ærin${i}` }, org));

    const first = await refoldSearchKeys(env, { batchSize: 1, maxBatches: 1 });

    expect(first).toEqual({ users: 1, left: true });
    expect((await Promise.all(folded.map(stillRecorded))).filter(Boolean)).toHaveLength(2);
    await worker.scheduled(createScheduledController({ scheduledTime: Date.now(), cron: "47 * * * *" }), env);
    for (const user of folded) {
      expect(await stillRecorded(user)).toBe(false);
      expect((await readUser(user.id))?.firstNameKey).toMatch(/^ærin\d$/);
    }
    expect(log.mock.calls.map(([line]) => JSON.parse(String(line)).msg)).toContain("search keys refolded");
  });

  it("runs every job of the :47 cron whatever the others do, and reports each failure, not only the first", async () => {
    vi.spyOn(console, "log").mockImplementation(() => {});
    vi.spyOn(console, "error").mockImplementation(() => {});
    // Every statement fails, and not as a fault worth retrying: each of the three jobs fails on its first.
    const broken = faultyD1(env.DB, [{ sql: /./, message: "D1_ERROR: no such table: broken", times: 1000 }]);

    const run = worker.scheduled(
      createScheduledController({ scheduledTime: Date.now(), cron: "47 * * * *" }),
      { ...env, DB: broken.db },
    );

    const failure = await run.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(AggregateError);
    expect((failure as AggregateError).errors).toHaveLength(3);
    expect((failure as AggregateError).message).toMatch(/^3 hourly jobs failed: /);
  });
});

describe("a refold run's cost in D1 queries (it shares the :47 invocation with the audit resend and the backlog)", () => {
  it("case 52: at its worst, full batches up to maxBatches, a batch is three statements however many users it writes", async () => {
    const { batchSize, maxBatches } = REFOLD_LIMITS;
    const count = batchSize * maxBatches + 1;
    // More users recorded than one run takes, every batch full: written in two statements.
    const tag = crypto.randomUUID();
    await db().run(sql`
      insert into users (id, workos_user_id, email, first_name, last_name, first_name_key, last_name_key,
                         email_key, created_at, updated_at)
      with recursive n(i) as (select 1 union all select i + 1 from n where i < ${count})
      select ${tag} || '-' || i, 'user_' || ${tag} || '-' || i, 'Ø' || i || '@example.com', 'Ærin', 'Ångström',
             'Ærin', 'Ångström', 'Ø' || i || '@example.com', 0, 0
      from n`);
    await db().run(
      sql`insert into search_keys_to_refold (user_id) select id from users where id like ${`${tag}-%`}`,
    );
    const d1 = countingD1(env.DB);
    vi.spyOn(console, "log").mockImplementation(() => {});

    expect(await refoldSearchKeys({ ...env, DB: d1 })).toEqual({ users: batchSize * maxBatches, left: true });

    // Each statement of a batch counts as one query against D1's limit.
    expect(d1.statements).toHaveLength(maxBatches * 3);
    expect(d1.statements.filter(({ sql }) => /^update "users"/.test(sql))).toHaveLength(maxBatches);
    expect(d1.statements.length * MAX_ATTEMPTS).toBeLessThanOrEqual(worstCaseRefoldQueries());
    // Retries included, at most half of the invocation's 1,000: the rest is the audit resend's and
    // the backlog's (a few dozen statements each).
    expect(worstCaseRefoldQueries()).toBeLessThanOrEqual(D1_QUERIES_PER_INVOCATION / 2);
    const counts = await db().all<{ refolded: number; left: number }>(sql`
      select (select count(*) from users where id like ${`${tag}-%`} and first_name_key = 'ærin'
                and last_name_key = 'ångström' and email_key like 'ø%') as refolded,
             (select count(*) from search_keys_to_refold where user_id like ${`${tag}-%`}) as left`);
    expect(counts).toEqual([{ refolded: batchSize * maxBatches, left: 1 }]);
  });
});
