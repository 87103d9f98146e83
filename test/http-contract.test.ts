import { afterEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { version as packageVersion } from "../package.json";
import { call } from "./helpers/api";
import { createUpload, createUser, readUser } from "./helpers/db";
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

interface ErrorBody {
  detail: unknown;
  code: string;
}

/** Everything the worker wrote to console.error, one string per call. */
function errorLog(spy: MockInstance<typeof console.error>): string {
  return spy.mock.calls.map((args) => args.map(String).join(" ")).join("\n");
}

describe("unknown routes", () => {
  for (const path of [
    "/",
    "/nope",
    "/api/v1/nope",
    "/api/v1/users/me/extra",
    "/api/v2/users/me",
    "/healthz/x",
  ]) {
    it(`answers 404 not_found JSON for GET ${path}`, async () => {
      const response = await call(path);
      expect(response.status).toBe(404);
      expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
      expect(await response.json()).toEqual({ detail: "Not found.", code: "not_found" });
      expect(response.headers.get("X-Request-Id")).toBeTruthy();
    });
  }
});

describe("methods a route does not serve", () => {
  const cases: [string, string, string[]][] = [
    ["DELETE", "/api/v1/users/me", ["GET", "HEAD"]],
    ["POST", "/api/v1/users/me/profile-picture", ["PATCH"]],
    ["PUT", "/api/v1/users/me/profile-picture", ["PATCH"]],
    ["DELETE", `/api/v1/shared/users/${crypto.randomUUID()}/profile-picture`, ["PATCH"]],
    ["POST", `/api/v1/shared/users/${crypto.randomUUID()}`, ["GET", "HEAD"]],
    ["POST", "/healthz", ["GET", "HEAD"]],
    ["PATCH", "/openapi.json", ["GET", "HEAD"]],
    ["DELETE", "/docs", ["GET", "HEAD"]],
  ];
  for (const [method, path, allowed] of cases) {
    it(`answers 405 JSON with Allow for ${method} ${path.replace(/[0-9a-f-]{36}/, "{id}")}`, async () => {
      const response = await call(path, { method });
      expect(response.status).toBe(405);
      expect(((await response.json()) as ErrorBody).code).toBe("method_not_allowed");
      const allow = (response.headers.get("Allow") ?? "").split(/,\s*/);
      for (const m of allowed) expect(allow).toContain(m);
      expect(allow).not.toContain(method);
    });
  }

  it("answers 405 before authenticating, and writes nothing", async () => {
    mockWorkOS();
    const user = await createUser();
    const upload = await createUpload(user);
    const response = await call("/api/v1/users/me/profile-picture", {
      method: "PUT",
      token: await signToken({ sub: user.workosUserId }),
      json: { uploadId: upload.id },
    });
    expect(response.status).toBe(405);
    expect(await readUser(user.id)).toEqual(user);
  });
});

describe("CORS", () => {
  const preflight = (origin: string) =>
    call("/api/v1/users/me/profile-picture", {
      method: "OPTIONS",
      headers: {
        Origin: origin,
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "authorization, content-type",
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

  for (const origin of [
    "https://evil.example",
    "https://app.example.com.evil.example",
    "null",
    "http://app.example.com",
  ]) {
    it(`gives no Access-Control-Allow-Origin to ${origin}`, async () => {
      const response = await preflight(origin);
      expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
      const simple = await call("/api/v1/users/me", { headers: { Origin: origin } });
      expect(simple.headers.get("Access-Control-Allow-Origin")).toBeNull();
    });
  }

  it("lets an allowed origin read error responses", async () => {
    const response = await call("/api/v1/users/me", { headers: { Origin: "https://app.example.com" } });
    expect(response.status).toBe(401);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
  });
});

describe("internal errors", () => {
  it("answers a generic 500 that leaks nothing, and logs the request id", async () => {
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
    expect(log).toMatch(/prepare/);
    for (const secret of SECRETS) expect(log).not.toContain(secret);
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
    responses: Record<string, { content?: Content }>;
    security?: unknown;
    parameters?: Schema[];
  }
  interface Document {
    openapi: string;
    info: { version: string };
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, Schema> };
  }

  it("carries package.json's version as info.version", async () => {
    const doc = (await (await call("/openapi.json")).json()) as Document;
    expect(doc.info.version).toBe(packageVersion);
  });

  it("is OpenAPI 3.1 describing both PATCH paths as the seed does", async () => {
    const doc = (await (await call("/openapi.json")).json()) as Document;
    expect(doc.openapi).toMatch(/^3\.1\./);
    const resolve = (schema: Schema | undefined): Schema =>
      (schema?.$ref ? doc.components.schemas[schema.$ref.replace("#/components/schemas/", "")] : schema) ??
      {};

    for (const path of [
      "/api/v1/users/me/profile-picture",
      "/api/v1/shared/users/{user_id}/profile-picture",
    ]) {
      const operation = doc.paths[path]?.patch;
      expect(operation, path).toBeDefined();
      if (!operation) continue;
      expect(operation.requestBody?.required).toBe(true);
      const body = resolve(operation.requestBody?.content["application/json"]?.schema);
      expect(body.required).toEqual(["uploadId"]);
      expect(body.additionalProperties).toBe(false);
      expect(body.properties?.uploadId).toMatchObject({ type: ["string", "null"], format: "uuid" });
      expect(Object.keys(operation.responses)).toEqual(
        expect.arrayContaining(["200", "401", "403", "404", "409", "413", "415", "422"]),
      );
      expect(operation.security).toEqual([{ Bearer: [] }]);
      const profile = resolve(operation.responses["200"]?.content?.["application/json"]?.schema);
      expect(Object.keys(profile.properties ?? {})).toHaveLength(11);
    }
    expect(doc.paths["/api/v1/shared/users/{user_id}/profile-picture"]?.patch?.parameters).toContainEqual(
      expect.objectContaining({
        name: "user_id",
        in: "path",
        required: true,
        schema: expect.objectContaining({ format: "uuid" }),
      }),
    );
  });
});
