import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it, type TestContext } from "vitest";
import { DEV_WORKOS_API_KEY } from "../../scripts/dev-keys.mjs";
import { serveWorkOSApi } from "../../scripts/lib/workos-stand-in.mjs";
import { AUDIT_ACTION_SCHEMAS, AUDIT_ACTIONS, AUDIT_SCHEMA_VERSION } from "../../src/audit/action-schemas";
import { freePort } from "./helpers/dev-server";
import { COMMITTED_TOML, filledInToml, productionToml, runScriptAsync } from "./helpers/wrangler-toml";

const KEY = "sk_test_audit_schemas_a1b2c3d4e5f6";

/** WorkOS's Create Schema body for both actions, written out: what the tests hold the module to. */
const SCHEMA_BODY = {
  targets: [{ type: "user" }],
  metadata: {
    type: "object",
    properties: {
      upload_id: { type: "string" },
      previous_upload_id: { type: "string" },
      via: { type: "string" },
    },
  },
};

const schemasUrl = (base: string, action: string) => `${base}/audit_logs/actions/${action}/schemas`;
const listUrl = (base: string, action: string) => `${schemasUrl(base, action)}?order=asc&limit=100`;

/** The environment of a user's shell, with this test's WORKOS_API_KEY (or none), never the machine's. */
function envWith(key?: string): NodeJS.ProcessEnv {
  const { WORKOS_API_KEY: _machine, ...env } = process.env;
  return key === undefined ? env : { ...env, WORKOS_API_KEY: key };
}

/** The script as a user runs it; whatever it says, the key is not in it. */
async function auditSchemas(args: string[], key?: string) {
  const result = await runScriptAsync("audit-schemas.mjs", args, envWith(key));
  if (key?.trim()) {
    expect(result.stdout).not.toContain(key.trim());
    expect(result.stderr).not.toContain(key.trim());
  }
  return result;
}

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}
type Answer = { status: number; body?: unknown; headers?: Record<string, string> };

const closed = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** Listens on a free loopback port until the test ends (tests run concurrently: each closes its own). */
async function listen(server: Server, { onTestFinished }: TestContext): Promise<string> {
  onTestFinished(() => closed(server));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A WorkOS API that answers `answer` and keeps every request it received. */
async function fakeWorkOS(context: TestContext, answer: (request: Received) => Answer) {
  const received: Received[] = [];
  const url = await listen(
    createServer(async (request, response) => {
      let body = "";
      for await (const chunk of request) body += chunk;
      const got = { method: request.method ?? "", path: request.url ?? "", headers: request.headers, body };
      received.push(got);
      const { status, body: answered, headers } = answer(got);
      response
        .writeHead(status, { "content-type": "application/json", ...headers })
        .end(typeof answered === "string" ? answered : JSON.stringify(answered ?? {}));
    }),
    context,
  );
  return { url, received };
}

/** WorkOS with no schema for any action: List Schemas says 404, Create Schema makes version 1. */
const emptyWorkOS = ({ method, body }: Received): Answer =>
  method === "GET"
    ? { status: 404, body: { message: "Not Found" } }
    : { status: 201, body: { object: "audit_log_schema", version: 1, ...JSON.parse(body) } };

/** Version 1 as WorkOS answers it: with an actor schema it was not sent, and keywords of its own. */
const storedVersion1 = (properties: Record<string, { type: string }>) => ({
  object: "audit_log_schema",
  version: 1,
  actor: { metadata: { type: "object", properties: {} } },
  targets: [{ type: "user" }],
  metadata: { type: "object", properties, additionalProperties: true },
  created_at: "2026-11-01T12:00:00.000Z",
});

describe("the audit log actions and their schemas (src/audit/action-schemas.ts)", () => {
  it("are the two profile-photo actions, each naming a user target and three string metadata keys, version 1", () => {
    expect(AUDIT_ACTIONS).toEqual(["profile_picture.updated", "profile_picture.removed"]);
    expect(AUDIT_SCHEMA_VERSION).toBe(1);
    for (const action of AUDIT_ACTIONS) expect(AUDIT_ACTION_SCHEMAS[action]).toEqual(SCHEMA_BODY);
  });
});

// Each case runs the script, a Node process that reads wrangler's config: seconds each, so side by side.
describe("registering the audit log schemas (npm run audit:schemas)", {
  timeout: 60_000,
  concurrent: true,
}, () => {
  it("--help says what it registers, where, and where the key comes from", async () => {
    const { status, stdout, stderr } = await auditSchemas(["--help"]);
    expect({ status, stderr }).toEqual({ status: 0, stderr: "" });
    expect(stdout).toMatch(/^Usage: npm run audit:schemas -- \[options\]\n/);
    expect(stdout).toContain("WORKOS_API_URL of\n[env.production], as version 1 of each action");
    expect(stdout).toContain("the environment variable WORKOS_API_KEY");
  });

  const printed: [where: string, args: () => string[], base: string][] = [
    ["the default WorkOS API", () => ["--config", COMMITTED_TOML], "https://api.workos.com"],
    [
      "WORKOS_API_URL of [env.production], without its trailing slash",
      () => ["--config", filledInToml({ WORKOS_API_URL: "https://workos.example.test/" })],
      "https://workos.example.test",
    ],
    ["--workos-api-url", () => ["--workos-api-url", "http://127.0.0.1:8788/"], "http://127.0.0.1:8788"],
  ];
  for (const [where, args, base] of printed) {
    it(`--print shows each call it would make to ${where}, makes none, and needs no key`, async () => {
      const { status, stdout, stderr } = await auditSchemas(["--print", ...args()]);
      expect({ status, stderr }).toEqual({ status: 0, stderr: "" });
      const block = (action: string) =>
        `# ${action}: its schemas, oldest first; then version 1, unless WorkOS holds it already\n` +
        `GET ${listUrl(base, action)}\nPOST ${schemasUrl(base, action)}\n${JSON.stringify(SCHEMA_BODY, null, 2)}\n`;
      expect(stdout).toBe(`${block("profile_picture.updated")}\n${block("profile_picture.removed")}`);
    });
  }

  it("creates version 1 of each action's schema with the key, when WorkOS holds none", async (context) => {
    const workos = await fakeWorkOS(context, emptyWorkOS);
    const { status, stdout, stderr } = await auditSchemas(["--workos-api-url", workos.url], KEY);
    expect({ status, stderr }).toEqual({ status: 0, stderr: "" });
    expect(stdout).toBe(
      "profile_picture.updated: schema version 1 created\nprofile_picture.removed: schema version 1 created\n",
    );
    expect(workos.received.map(({ method, path }) => `${method} ${path}`)).toEqual([
      `GET ${listUrl("", "profile_picture.updated")}`,
      `POST ${schemasUrl("", "profile_picture.updated")}`,
      `GET ${listUrl("", "profile_picture.removed")}`,
      `POST ${schemasUrl("", "profile_picture.removed")}`,
    ]);
    for (const request of workos.received) expect(request.headers.authorization).toBe(`Bearer ${KEY}`);
    for (const request of workos.received.filter(({ method }) => method === "POST")) {
      expect(request.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(request.body)).toEqual(SCHEMA_BODY);
    }
  });

  it("changes nothing when version 1 already holds the same schema, however WorkOS writes it", async (context) => {
    const workos = await fakeWorkOS(context, () => ({
      status: 200,
      body: { object: "list", data: [storedVersion1(SCHEMA_BODY.metadata.properties)], list_metadata: {} },
    }));
    const { status, stdout, stderr } = await auditSchemas(["--workos-api-url", workos.url], KEY);
    expect({ status, stderr }).toEqual({ status: 0, stderr: "" });
    expect(stdout).toBe(
      "profile_picture.updated: schema version 1 already registered, unchanged\n" +
        "profile_picture.removed: schema version 1 already registered, unchanged\n",
    );
    expect(workos.received.map(({ method }) => method)).toEqual(["GET", "GET"]);
  });

  it("refuses, creating nothing, when version 1 holds another schema, since the events name version 1", async (context) => {
    const workos = await fakeWorkOS(context, () => ({
      status: 200,
      body: { object: "list", data: [storedVersion1({ upload_id: { type: "string" } })] },
    }));
    const { status, stdout, stderr } = await auditSchemas(["--workos-api-url", workos.url], KEY);
    expect({ status, stdout }).toEqual({ status: 1, stdout: "" });
    expect(stderr).toBe(
      "Not registering profile_picture.updated: WorkOS holds another schema as version 1 (targets user; " +
        "metadata upload_id: string), the version events name: a new schema needs a new AUDIT_SCHEMA_VERSION " +
        "in src/audit/action-schemas.ts\n",
    );
    expect(workos.received.map(({ method }) => method)).toEqual(["GET"]);
  });

  for (const key of [undefined, "  "]) {
    it(`refuses with exit 1 before any call when WORKOS_API_KEY is ${key === undefined ? "not set" : "blank"}`, async (context) => {
      const workos = await fakeWorkOS(context, emptyWorkOS);
      const { status, stdout, stderr } = await auditSchemas(["--workos-api-url", workos.url], key);
      expect({ status, stdout }).toEqual({ status: 1, stdout: "" });
      expect(stderr).toBe(
        "Not registering the audit log schemas: WORKOS_API_KEY is not set: export the WorkOS environment's " +
          "secret key (sk_…) in it; it is read from there only\n",
      );
      expect(workos.received).toEqual([]);
    });
  }

  const badUrls: [value: string, rule: string][] = [
    ["http://api.workos.com", "must be an https URL in production"],
    ["api.workos.com", "must be an https URL in production"],
    ["https://replace_me.workos.example", "is still the placeholder of wrangler.toml (REPLACE_ME)"],
  ];
  for (const [value, rule] of badUrls) {
    for (const print of [false, true]) {
      it(`refuses with exit 1 when WORKOS_API_URL of [env.production] is ${JSON.stringify(value)}${print ? " (--print too)" : ""}`, async () => {
        const config = productionToml({ WORKOS_API_URL: value });
        const args = [...(print ? ["--print"] : []), "--config", config];
        const { status, stdout, stderr } = await auditSchemas(args, KEY);
        expect({ status, stdout }).toEqual({ status: 1, stdout: "" });
        expect(stderr).toBe(
          `Not registering the audit log schemas: WORKOS_API_URL ${rule} ([env.production] of ${config})\n`,
        );
      });
    }
  }

  // The key would travel in clear: http only to a host that never leaves the machine, and a name
  // that merely starts like a loopback address is not one.
  for (const url of ["http://127.0.0.1.example.com", "http://api.workos.com"]) {
    it(`refuses with exit 2, calling nothing, when --workos-api-url is ${url}`, async () => {
      const { status, stdout, stderr } = await auditSchemas(["--workos-api-url", url], KEY);
      expect({ status, stdout }).toEqual({ status: 2, stdout: "" });
      expect(stderr).toBe(
        "audit:schemas: --workos-api-url takes an https URL, or an http one on a loopback host, without " +
          `query or fragment, not '${url}' (see npm run audit:schemas -- --help)\n`,
      );
    });
  }

  const workosRefusals: [
    what: string,
    answer: (request: Received) => Answer,
    said: (url: string) => string,
  ][] = [
    [
      "a 401 to the first call, with a hint about the key",
      () => ({ status: 401, body: { message: "Unauthorized" } }),
      (url) =>
        `WorkOS answered 401 to GET ${listUrl(url, "profile_picture.updated")}: Unauthorized ` +
        "(is WORKOS_API_KEY this WorkOS environment's secret key?)",
    ],
    [
      "a 422 to the creation, with its errors",
      (request) =>
        request.method === "GET"
          ? emptyWorkOS(request)
          : {
              status: 422,
              body: {
                message: "Validation failed",
                errors: [{ field: "targets", code: "targets_required" }],
              },
            },
      (url) =>
        `WorkOS answered 422 to POST ${schemasUrl(url, "profile_picture.updated")}: Validation failed ` +
        "(targets targets_required)",
    ],
    [
      "a 502 page of HTML",
      () => ({
        status: 502,
        body: "<html>\n<h1>Bad gateway</h1>\n</html>",
        headers: { "content-type": "text/html" },
      }),
      (url) => `WorkOS answered 502 to GET ${listUrl(url, "profile_picture.updated")}: (no error message)`,
    ],
    [
      "an error that quotes the key, which is not repeated",
      () => ({ status: 400, body: { message: `Bad key ${KEY}` } }),
      (url) =>
        `WorkOS answered 400 to GET ${listUrl(url, "profile_picture.updated")}: Bad key [WORKOS_API_KEY]`,
    ],
    [
      "a redirect, not followed (the key would go with it)",
      () => ({ status: 307, headers: { location: "https://elsewhere.example.com/" } }),
      (url) => `WorkOS answered 307 to GET ${listUrl(url, "profile_picture.updated")}: (no error message)`,
    ],
  ];
  for (const [what, answer, said] of workosRefusals) {
    it(`stops with exit 1 and WorkOS's own words on ${what}`, async (context) => {
      const workos = await fakeWorkOS(context, answer);
      const { status, stdout, stderr } = await auditSchemas(["--workos-api-url", workos.url], KEY);
      expect({ status, stdout }).toEqual({ status: 1, stdout: "" });
      expect(stderr).toBe(`Not registering profile_picture.updated: ${said(workos.url)}\n`);
    });
  }

  it("stops with exit 1 when WorkOS cannot be reached", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const { status, stdout, stderr } = await auditSchemas(["--workos-api-url", url], KEY);
    expect({ status, stdout }).toEqual({ status: 1, stdout: "" });
    expect(stderr).toBe(
      `Not registering profile_picture.updated: could not reach WorkOS (GET ${listUrl(url, "profile_picture.updated")}): ` +
        `connect ECONNREFUSED ${url.slice("http://".length)}\n`,
    );
  });

  it("registers with npm run dev's WorkOS stand-in, and a second run changes nothing", async ({
    onTestFinished,
  }) => {
    const lines: string[] = [];
    const port = await freePort();
    const standIn = await serveWorkOSApi(port, { log: (line: string) => lines.push(line) });
    onTestFinished(() => closed(standIn));
    const args = ["--workos-api-url", `http://127.0.0.1:${port}`];

    const first = await auditSchemas(args, DEV_WORKOS_API_KEY);
    expect(first).toEqual({
      status: 0,
      stdout:
        "profile_picture.updated: schema version 1 created\nprofile_picture.removed: schema version 1 created\n",
      stderr: "",
    });
    const again = await auditSchemas(args, DEV_WORKOS_API_KEY);
    expect(again.status).toBe(0);
    expect(again.stdout).toMatch(
      /^profile_picture.updated: schema version 1 already registered, unchanged\n/,
    );
    expect(lines).toEqual([
      "audit: schema version 1 of profile_picture.updated created",
      "audit: schema version 1 of profile_picture.removed created",
    ]);
  });
});
