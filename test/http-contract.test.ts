import { afterEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { version as packageVersion } from "../package.json";
import { call } from "./helpers/api";
import { createUpload, createUser } from "./helpers/db";
import { expectError, expectUnchanged } from "./helpers/refusals";
import { signToken } from "./helpers/tokens";
import { mockWorkOS } from "./helpers/workos";

afterEach(() => {
  vi.restoreAllMocks();
});

const SECRETS = [
  "sk_test_workos_api_key",
  "whsec_test_secret",
  "test-secret-access-key",
  "test-access-key-id",
];

/** Everything the worker wrote to console.error, one string per call. */
function errorLog(spy: MockInstance<typeof console.error>): string {
  return spy.mock.calls.map((args) => args.map(String).join(" ")).join("\n");
}

describe("unknown routes", () => {
  it.for(["/", "/nope", "/api/v1/nope", "/api/v1/users/me/extra", "/api/v2/users/me", "/healthz/x"])(
    "answers 404 not_found JSON for GET %s",
    async (path) => {
      const response = await call(path);
      expect(response.status).toBe(404);
      expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
      expect(await response.json()).toEqual({ detail: "Not found.", code: "not_found" });
      expect(response.headers.get("X-Request-Id")).toBeTruthy();
    },
  );
});

describe("methods a route does not serve", () => {
  it.for([
    { method: "DELETE", path: "/api/v1/users/me", allowed: ["GET", "HEAD"] },
    { method: "POST", path: "/api/v1/users/me/profile-picture", allowed: ["PATCH", "PUT"] },
    { method: "DELETE", path: "/api/v1/users/me/profile-picture", allowed: ["PATCH", "PUT"] },
    { method: "DELETE", path: "/api/v1/shared/users/{id}/profile-picture", allowed: ["PATCH", "PUT"] },
    { method: "POST", path: "/api/v1/shared/users/{id}", allowed: ["GET", "HEAD"] },
    { method: "DELETE", path: "/api/v1/uploads/{id}", allowed: ["GET", "HEAD"] },
    { method: "POST", path: "/healthz", allowed: ["GET", "HEAD"] },
    { method: "PATCH", path: "/openapi.json", allowed: ["GET", "HEAD"] },
    { method: "DELETE", path: "/docs", allowed: ["GET", "HEAD"] },
  ])("case 32: answers 405 JSON with Allow for $method $path", async ({ method, path, allowed }) => {
    const response = await call(path.replace("{id}", crypto.randomUUID()), { method });
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    await expectError(response, 405, "method_not_allowed");
    const allow = (response.headers.get("Allow") ?? "").split(/,\s*/);
    for (const m of allowed) expect(allow).toContain(m);
    expect(allow).not.toContain(method);
  });

  it("case 32: answers 405 before authenticating, and writes nothing", async () => {
    mockWorkOS();
    const user = await createUser();
    const upload = await createUpload(user);
    const response = await call("/api/v1/users/me/profile-picture", {
      method: "POST",
      token: await signToken({ sub: user.workosUserId }),
      json: { uploadId: upload.id },
    });
    await expectError(response, 405, "method_not_allowed");
    await expectUnchanged(user, upload);
  });
});

describe("CORS", () => {
  const preflight = (origin: string, method = "PATCH", headers = "authorization, content-type") =>
    call("/api/v1/users/me/profile-picture", {
      method: "OPTIONS",
      headers: {
        Origin: origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
      },
    });

  it("answers a preflight from an allowed origin", async () => {
    const response = await preflight("https://app.example.com");
    expect(response.status).toBeLessThan(300);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    expect(response.headers.get("Access-Control-Allow-Methods")).toContain("PATCH");
    expect(response.headers.get("Access-Control-Allow-Headers")?.toLowerCase()).toContain("authorization");
    expect(response.headers.get("Access-Control-Allow-Credentials")).toBeNull();
    expect(response.headers.get("Vary")).toContain("Origin");
  });

  it.for(["https://evil.example", "https://app.example.com.evil.example", "null", "http://app.example.com"])(
    "case 32: gives no Access-Control-Allow-Origin to %s, on a preflight or a request",
    async (origin) => {
      const response = await preflight(origin);
      expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
      const simple = await call("/api/v1/users/me", { headers: { Origin: origin } });
      expect(simple.headers.get("Access-Control-Allow-Origin")).toBeNull();
    },
  );

  it("allows If-Match and If-None-Match in a preflight, and exposes ETag to an allowed origin", async () => {
    const response = await call("/api/v1/users/me/profile-picture", {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example.com",
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, content-type, if-match",
      },
    });
    const allowed = (response.headers.get("Access-Control-Allow-Headers") ?? "").toLowerCase().split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(["if-match", "if-none-match"]));
    mockWorkOS();
    const user = await createUser();
    const read = await call("/api/v1/users/me", {
      token: await signToken({ sub: user.workosUserId }),
      headers: { Origin: "https://app.example.com" },
    });
    expect(read.headers.get("ETag")).toBeTruthy();
    expect(read.headers.get("Access-Control-Expose-Headers")?.split(/,\s*/)).toContain("ETag");
  });

  describe("a preflight of the one-call PUT, with the headers it sends", () => {
    const putPreflight = (origin: string) =>
      preflight(origin, "PUT", "authorization, content-type, if-match");

    it("allows PUT and those headers to an allowed origin", async () => {
      const response = await putPreflight("https://app.example.com");
      expect(response.status).toBeLessThan(300);
      expect(response.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
      expect(response.headers.get("Access-Control-Allow-Methods")?.split(/,\s*/)).toContain("PUT");
      const allowed = (response.headers.get("Access-Control-Allow-Headers") ?? "")
        .toLowerCase()
        .split(/,\s*/);
      expect(allowed).toEqual(expect.arrayContaining(["authorization", "content-type", "if-match"]));
    });

    it("case 32: lets no origin not allowed send it: no Access-Control-Allow-Origin", async () => {
      const response = await putPreflight("https://evil.example");
      // Without Allow-Origin the browser refuses the PUT, whatever other CORS headers the preflight carries.
      expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
      expect(response.headers.get("Access-Control-Allow-Credentials")).toBeNull();
    });
  });

  it("lets an allowed origin send the D1 bookmark back and read the one each response carries", async () => {
    const response = await call("/api/v1/users/me", {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example.com",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization, x-d1-bookmark",
      },
    });
    expect(response.headers.get("Access-Control-Allow-Headers")?.toLowerCase()).toContain("x-d1-bookmark");
    const answer = await call("/api/v1/users/me", { headers: { Origin: "https://app.example.com" } });
    expect(answer.headers.get("Access-Control-Expose-Headers")?.toLowerCase()).toContain("x-d1-bookmark");
  });

  it("lets an allowed origin read error responses", async () => {
    const response = await call("/api/v1/users/me", { headers: { Origin: "https://app.example.com" } });
    expect(response.status).toBe(401);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
  });
});

describe("internal errors", () => {
  it("case 45: answers a generic 500 that leaks nothing, and logs the request id and the details", async () => {
    mockWorkOS();
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const user = await createUser();
    const response = await call("/api/v1/users/me", {
      token: await signToken({ sub: user.workosUserId }),
      headers: { "X-Request-Id": "req-broken-db-1" },
      env: { DB: {} },
    });
    expect(response.status).toBe(500);
    expect(response.headers.get("X-Request-Id")).toBe("req-broken-db-1");
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ detail: "Internal server error.", code: "internal_error" });
    expect(text).not.toMatch(/select|users|prepare|TypeError|at |\.ts/i);
    const log = errorLog(errors);
    expect(log).toContain("req-broken-db-1");
    // The binding has no D1 methods: opening the request's session is what failed.
    expect(log).toMatch(/withSession is not a function/);
    for (const secret of SECRETS) expect(log).not.toContain(secret);
  });
});

describe("the request log", () => {
  it.for([
    { name: "/users/me", path: () => "/api/v1/users/me/profile-picture" },
    { name: "/shared/users/{id}", path: (id: string) => `/api/v1/shared/users/${id}/profile-picture` },
  ])("names the caller of a PATCH on themself through $name", async ({ path }) => {
    mockWorkOS();
    const logs = vi.spyOn(console, "log").mockImplementation(() => {});
    const user = await createUser();
    const response = await call(path(user.id), {
      method: "PATCH",
      token: await signToken({ sub: user.workosUserId }),
      json: { uploadId: null },
      headers: { "X-Request-Id": `req-log-${user.id}` },
    });
    expect(response.status).toBe(200);
    const line = logs.mock.calls.map((args) => String(args[0])).find((l) => l.includes(`req-log-${user.id}`));
    expect(JSON.parse(line ?? "{}")).toMatchObject({ status: 200, userId: user.id, sub: user.workosUserId });
  });
});

describe("GET /healthz", () => {
  it("answers 200 without auth", async () => {
    const response = await call("/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });
});

describe("GET /openapi.json", () => {
  type Schema = Record<string, unknown> & { $ref?: string; properties?: Record<string, Schema> };
  type Content = Record<string, { schema: Schema }>;
  interface Operation {
    requestBody?: { required: boolean; content: Content };
    description?: string;
    responses: Record<string, { description?: string; content?: Content; headers?: Record<string, unknown> }>;
    security?: unknown;
    parameters?: Schema[];
  }
  interface Document {
    openapi: string;
    info: { version: string; description: string };
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, Schema> };
  }

  it("carries package.json's version as info.version", async () => {
    const doc = (await (await call("/openapi.json")).json()) as Document;
    expect(doc.info.version).toBe(packageVersion);
  });

  it("tells clients to send back the newest x-d1-bookmark to read their own writes", async () => {
    const doc = (await (await call("/openapi.json")).json()) as Document;
    expect(doc.info.description).toMatch(/`x-d1-bookmark` header.*send the newest one you received back/s);
  });

  it.for(["/api/v1/users/me/profile-picture", "/api/v1/shared/users/{user_id}/profile-picture"])(
    "is OpenAPI 3.1 describing PATCH %s as the seed does",
    async (path) => {
      const doc = (await (await call("/openapi.json")).json()) as Document;
      expect(doc.openapi).toMatch(/^3\.1\./);
      const resolve = (schema: Schema | undefined): Schema =>
        (schema?.$ref ? doc.components.schemas[schema.$ref.replace("#/components/schemas/", "")] : schema) ??
        {};
      const operation = doc.paths[path]?.patch;
      expect(operation).toBeDefined();
      expect(operation?.requestBody?.required).toBe(true);
      const body = resolve(operation?.requestBody?.content["application/json"]?.schema);
      expect(body.required).toEqual(["uploadId"]);
      expect(body.additionalProperties).toBe(false);
      expect(body.properties?.uploadId).toMatchObject({ type: ["string", "null"], format: "uuid" });
      expect(Object.keys(operation?.responses ?? {})).toEqual(
        expect.arrayContaining(["200", "401", "403", "404", "409", "413", "415", "422"]),
      );
      expect(operation?.security).toEqual([{ Bearer: [] }]);
      const profile = resolve(operation?.responses["200"]?.content?.["application/json"]?.schema);
      // The seed's 11 keys, and the two avatar keys no seed client needs to read.
      expect(Object.keys(profile.properties ?? {})).toEqual([
        "id",
        "email",
        "emailVerified",
        "firstName",
        "lastName",
        "profilePictureUrl",
        "role",
        "state",
        "lastLogin",
        "createdAt",
        "hasCustomProfilePicture",
        "avatarUrl",
        "avatarSource",
      ]);
      expect(profile.properties?.avatarSource).toMatchObject({
        enum: ["custom", "identity_provider", "initials"],
      });
      expect(profile.required).toEqual(expect.arrayContaining(["avatarUrl", "avatarSource"]));
    },
  );

  it("names user_id as a UUID path parameter of the PATCH by id", async () => {
    const doc = (await (await call("/openapi.json")).json()) as Document;
    expect(doc.paths["/api/v1/shared/users/{user_id}/profile-picture"]?.patch?.parameters).toContainEqual(
      expect.objectContaining({
        name: "user_id",
        in: "path",
        required: true,
        schema: expect.objectContaining({ format: "uuid" }),
      }),
    );
  });

  it.for([
    ["get", "/api/v1/users/me", "if-none-match"],
    ["get", "/api/v1/shared/users/{user_id}", "if-none-match"],
    ["get", "/api/v1/shared/users", undefined],
    ["patch", "/api/v1/users/me/profile-picture", "if-match"],
    ["patch", "/api/v1/shared/users/{user_id}/profile-picture", "if-match"],
    ["put", "/api/v1/users/me/profile-picture", "if-match"],
    ["put", "/api/v1/shared/users/{user_id}/profile-picture", "if-match"],
  ] as const)("declares pictureSize on %s %s, and its conditional header", async ([method, path, header]) => {
    const doc = (await (await call("/openapi.json")).json()) as Document;
    const operation = doc.paths[path]?.[method];
    expect(operation?.parameters).toContainEqual(
      expect.objectContaining({
        name: "pictureSize",
        in: "query",
        schema: expect.objectContaining({ enum: ["64", "128", "256", "512"], default: "256" }),
      }),
    );
    if (header === undefined) return;
    expect(operation?.parameters).toContainEqual(expect.objectContaining({ name: header, in: "header" }));
    expect(Object.keys(operation?.responses ?? {})).toContain(header === "if-match" ? "412" : "304");
    expect(operation?.responses["200"]?.headers).toHaveProperty("ETag");
  });

  it("describes the PATCH's checks in the order a refusal is explained, each with its status and code", async () => {
    const doc = (await (await call("/openapi.json")).json()) as Document;
    const codesIn = (text: string) =>
      [...text.matchAll(/\((\d{3}) `([a-z_]+)`\)/g)].map((m) => `${m[1]} ${m[2]}`);
    const uploadChecks = [
      "404 upload_not_found",
      "422 upload_wrong_scope",
      "422 upload_wrong_kind",
      "409 upload_not_ready",
    ];
    // The precondition comes after who may act on whom and before the body's upload (RFC 9110 §13.2.1).
    expect(codesIn(doc.paths["/api/v1/users/me/profile-picture"]?.patch?.description ?? "")).toEqual([
      "412 precondition_failed",
      ...uploadChecks,
    ]);
    expect(
      codesIn(doc.paths["/api/v1/shared/users/{user_id}/profile-picture"]?.patch?.description ?? ""),
    ).toEqual(["404 user_not_found", "403 forbidden", "412 precondition_failed", ...uploadChecks]);
  });

  it("declares every error of a route under the status its code has, each code once", async () => {
    const doc = (await (await call("/openapi.json")).json()) as Document;
    const statusOf = new Map<string, string>();
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const declared: string[] = [];
        for (const [status, response] of Object.entries(operation.responses)) {
          // Successes, and the 304 of a conditional GET, carry no error code.
          if (/^[23]/.test(status)) continue;
          const codes = [...(response.description ?? "").matchAll(/`([a-z_]+)`: /g)].map(
            (m) => m[1] as string,
          );
          expect(codes.length, `${method} ${path} ${status}`).toBeGreaterThan(0);
          for (const code of codes) {
            expect(statusOf.get(code) ?? status, `${code} on ${method} ${path}`).toBe(status);
            statusOf.set(code, status);
          }
          declared.push(...codes);
        }
        expect(new Set(declared).size, `${method} ${path}`).toBe(declared.length);
        expect(declared, `${method} ${path}`).toContain("internal_error");
      }
    }
    // The webhook answers 429 (per-IP limit) and 503 (D1) too, and says so.
    expect(Object.keys(doc.paths["/webhooks/workos"]?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(["400", "401", "413", "429", "500", "503"]),
    );
  });
});
