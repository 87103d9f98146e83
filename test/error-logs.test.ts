import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { call, json } from "./helpers/api";
import { countingD1 } from "./helpers/counting-d1";
import { createUser } from "./helpers/db";
import { signToken } from "./helpers/tokens";
import { mockWorkOS, WORKOS_API_URL } from "./helpers/workos";
import { newWorkOSUserId, workosUserObject } from "./helpers/workos-users";

afterEach(() => vi.restoreAllMocks());

/** A constraint failure as D1 reports it: it names the column, never the value. */
const CONSTRAINT_FAILED = "D1_ERROR: UNIQUE constraint failed: users.email: SQLITE_CONSTRAINT";

/** Every line written to the console by the code under test, whatever the level. */
function captureLogs() {
  const lines: string[] = [];
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      lines.push(args.map((arg) => (typeof arg === "string" ? arg : JSON.stringify(arg))).join(" "));
    });
  }
  return {
    lines,
    /** The parsed `unhandled error` line: there must be exactly one. */
    unhandled() {
      const matching = lines.filter((line) => line.includes('"unhandled error"'));
      expect(matching).toHaveLength(1);
      return JSON.parse(matching[0] as string) as Record<string, unknown>;
    },
  };
}

/** The real local D1, where every statement matching `sql` fails with `message` before it runs. */
function failing(sql: RegExp, message: string) {
  return countingD1(env.DB, (trip) => {
    if (sql.test(trip)) throw new Error(message);
  });
}

async function expectGeneric500(response: Response, requestId: string) {
  expect(response.status).toBe(500);
  expect(response.headers.get("X-Request-Id")).toBe(requestId);
  expect(await json(response)).toEqual({ detail: "Internal server error.", code: "internal_error" });
}

describe("the log of a 500", () => {
  it("case 45: holds no email or name of a user whose just-in-time provisioning failed in the database", async () => {
    const sub = newWorkOSUserId();
    const personal = {
      email: "zelda.quimbyfrost@private.example",
      first_name: "Zelda",
      last_name: "Quimbyfrost",
    };
    mockWorkOS({
      [`${WORKOS_API_URL}/user_management/users/`]: () => Response.json(workosUserObject(sub, personal)),
    });
    const logs = captureLogs();
    const db = failing(/^insert into "users"/i, CONSTRAINT_FAILED);

    const response = await call("/api/v1/users/me", {
      token: await signToken({ sub }),
      headers: { "X-Request-Id": "req-jit-db-failure" },
      env: { DB: db },
    });

    await expectGeneric500(response, "req-jit-db-failure");
    // The statement that failed really carried them: the log had them within reach.
    const insert = db.statements.find((s) => /^insert into "users"/i.test(s.sql));
    expect(insert?.params).toEqual(expect.arrayContaining(Object.values(personal)));
    const all = logs.lines.join("\n");
    for (const value of Object.values(personal)) expect(all).not.toContain(value);
    expect(all).not.toMatch(/quimbyfrost|zelda/i);
    // What is there is enough to find the failure: the request, the kind of error, D1's own words.
    expect(logs.unhandled()).toMatchObject({
      requestId: "req-jit-db-failure",
      error: "DrizzleQueryError",
      databaseError: CONSTRAINT_FAILED,
      stack: expect.stringMatching(/^at .*\n\s+at /),
    });
  });

  it("case 45: holds no filename of an upload whose creation failed in the database", async () => {
    mockWorkOS();
    const user = await createUser();
    const filename = "zelda-quimbyfrost-passport-scan.jpg";
    const logs = captureLogs();
    const db = failing(
      /^insert into "uploads"/i,
      "D1_ERROR: FOREIGN KEY constraint failed: SQLITE_CONSTRAINT",
    );

    const response = await call("/api/v1/uploads", {
      method: "POST",
      token: await signToken({ sub: user.workosUserId }),
      headers: { "X-Request-Id": "req-upload-db-failure" },
      json: { kind: "image", scope: "profile_picture", contentType: "image/jpeg", size: 1234, filename },
      env: { DB: db },
    });

    await expectGeneric500(response, "req-upload-db-failure");
    const insert = db.statements.find((s) => /^insert into "uploads"/i.test(s.sql));
    expect(insert?.params).toContain(filename);
    const all = logs.lines.join("\n");
    expect(all).not.toContain(filename);
    expect(all).not.toMatch(/passport-scan/i);
    expect(logs.unhandled()).toMatchObject({
      requestId: "req-upload-db-failure",
      error: "DrizzleQueryError",
      databaseError: "D1_ERROR: FOREIGN KEY constraint failed: SQLITE_CONSTRAINT",
    });
  });

  it("case 45: cuts the value out of D1's type error, which quotes it, and does not take it for a network fault", async () => {
    mockWorkOS();
    const user = await createUser();
    const logs = captureLogs();
    // The value reads like a transient failure ("reset"): it must neither be retried nor logged.
    const typeError =
      "D1_TYPE_ERROR: Type 'object' not supported for value 'zelda.quimbyfrost@password-reset.example'";
    const db = failing(/^insert into "uploads"/i, typeError);

    const response = await call("/api/v1/uploads", {
      method: "POST",
      token: await signToken({ sub: user.workosUserId }),
      headers: { "X-Request-Id": "req-upload-type-error" },
      json: { kind: "image", scope: "profile_picture", contentType: "image/jpeg", size: 1234 },
      env: { DB: db },
    });

    await expectGeneric500(response, "req-upload-type-error");
    expect(db.trips.filter((sql) => /^insert into "uploads"/i.test(sql))).toHaveLength(1);
    expect(logs.lines.join("\n")).not.toMatch(/quimbyfrost|password-reset/i);
    expect(logs.unhandled()).toMatchObject({
      error: "DrizzleQueryError",
      databaseError: "D1_TYPE_ERROR: Type 'object' not supported for value (not logged)",
    });
  });
});
