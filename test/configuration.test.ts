import { afterEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { type CallOptions, call } from "./helpers/api";
import { createUpload, createUser, readUpload, readUser } from "./helpers/db";
import { PRODUCTION } from "./helpers/environments";
import { expectError, expectUnchanged } from "./helpers/refusals";
import { ISSUER, publicJwks, signToken } from "./helpers/tokens";
import { countUploads } from "./helpers/uploads";
import { mockWorkOS } from "./helpers/workos";

afterEach(() => vi.restoreAllMocks());

/** The test env's secrets: no log line may hold them. */
const SECRETS = [
  "sk_test_workos_api_key",
  "whsec_test_secret",
  "test-secret-access-key",
  "test-access-key-id",
];

const DEVELOPMENT = { ...PRODUCTION, ENVIRONMENT: "development" };

const HTTP_JWKS_URL = "http://api.workos.com/sso/jwks/client_test";

type Case = [setting: string, value: string | undefined];

/** Wrong in any environment. */
const malformed: Case[] = [
  ["R2_SECRET_ACCESS_KEY", ""],
  ["R2_ACCESS_KEY_ID", ""],
  ["WORKOS_CLIENT_ID", "   "],
  ["THUMB_URL_TTL_SECONDS", "soon"],
  // R2 presigned URLs live at most 7 days: a longer TTL would hand out URLs R2 refuses.
  ["THUMB_URL_TTL_SECONDS", "604801"],
  ["R2_S3_ENDPOINT", "ftp://example.com"],
  ["WORKOS_JWKS", "{not json"],
  ["ENVIRONMENT", ""],
  ["ENVIRONMENT", "staging"],
  ["ENVIRONMENT", "Production"],
  ["ENVIRONMENT", undefined],
  // The page's policy lists origins: a path, another scheme or a wildcard is not one.
  ["PAGE_API_ORIGIN", "https://api.example.com/v1"],
  ["PAGE_API_ORIGIN", "javascript:alert(1)"],
  // CORS compares origins as strings: one a browser never sends would boot and never match.
  ["CORS_ORIGINS", "https://app.example.com/"],
  ["CORS_ORIGINS", "app.example.com"],
  ["CORS_ORIGINS", "https://app.example.com,https://admin.example.com/login"],
  ["CORS_ORIGINS", "https://App.Example.com"],
  ["CORS_ORIGINS", "https://app.example.com:443"],
  ["CORS_ORIGINS", "*"],
  ["MAX_ATTACHMENT_BYTES_PER_USER", "1 GiB"],
  ["MAX_ATTACHMENT_BYTES_PER_USER", "0"],
];

/** Development-only settings, and the placeholders the committed wrangler.toml ships with. */
const refusedInProduction: Case[] = [
  ["WORKOS_JWKS", JSON.stringify(publicJwks)],
  ["LOCAL_S3_EMULATION", "true"],
  ["WORKOS_JWKS_URL", HTTP_JWKS_URL],
  ["WORKOS_API_URL", "http://workos-api.test"],
  ["WORKOS_ISSUERS", `${ISSUER}, http://auth.example.test`],
  ["R2_S3_ENDPOINT", "http://localhost:8787/__s3"],
  ["R2_ACCOUNT_ID", "REPLACE_ME"],
  ["R2_ACCOUNT_ID", "local"],
  ["R2_ACCOUNT_ID", "0123456789abcdef0123456789abcde"],
  ["WORKOS_CLIENT_ID", "client_REPLACE_ME"],
  ["WORKOS_CLIENT_ID", "client_local_dev"],
  ["WORKOS_CLIENT_ID", "01HZY3M4K5N6P7Q8R9S0T1V2W3"],
  ["R2_BUCKET_NAME", "REPLACE_ME"],
  ["CORS_ORIGINS", "https://replace_me.example.com"],
  ["CORS_ORIGINS", "https://app.example.com,http://admin.example.com"],
  // The page sends the bearer token there.
  ["PAGE_API_ORIGIN", "http://api.example.com"],
];

const shown = ([setting, value]: Case) =>
  `${setting} = ${setting === "WORKOS_JWKS" && value?.startsWith('{"') ? "an inline key set" : JSON.stringify(value)}`;

function logOf(spy: MockInstance<typeof console.error>): string {
  return spy.mock.calls.map((args) => args.map(String).join(" ")).join("\n");
}

async function getMe(env: Record<string, string>) {
  const user = await createUser();
  return call("/api/v1/users/me", { token: await signToken({ sub: user.workosUserId }), env });
}

describe("a broken configuration (logged by setting, never answered with details)", () => {
  const cases = [
    ...malformed.map((c) => ({ name: `${shown(c)}`, env: { [c[0]]: c[1] }, setting: c[0] })),
    ...refusedInProduction.map((c) => ({
      name: `${shown(c)} in production`,
      env: { ...PRODUCTION, [c[0]]: c[1] },
      setting: c[0],
    })),
  ];

  it.for(cases)(
    "answers 500 for $name, writes nothing, and logs the setting with the request id",
    async ({ env, setting }) => {
      mockWorkOS({ [HTTP_JWKS_URL]: () => Response.json(publicJwks) });
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const user = await createUser();
      const upload = await createUpload(user);
      const requestId = `req-config-${setting}`;

      const response = await call("/api/v1/users/me/profile-picture", {
        method: "PATCH",
        token: await signToken({ sub: user.workosUserId }),
        json: { uploadId: upload.id },
        headers: { "X-Request-Id": requestId },
        env,
      });

      expect(response.status).toBe(500);
      const text = await response.text();
      expect(JSON.parse(text)).toEqual({ detail: "Internal server error.", code: "internal_error" });
      expect(text).not.toContain(setting);
      expect(await readUser(user.id)).toEqual(user);
      expect(await readUpload(upload.id)).toEqual(upload);
      const log = logOf(errors);
      expect(log).toContain(requestId);
      expect(log).toMatch(new RegExp(`"${setting}(\\.\\d+)? [^"]+"`));
      for (const secret of SECRETS) expect(log).not.toContain(secret);
    },
  );

  it.for(cases)(
    "answers /healthz 503 with Retry-After for $name, logging the setting",
    async ({ env, setting }) => {
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const response = await call("/healthz", { env });
      const body = await expectError(response, 503, "unavailable");
      expect(JSON.stringify(body)).not.toContain(setting);
      expect(logOf(errors)).toContain(setting);
    },
  );

  it.for<{ name: string; path: string; options: CallOptions }>([
    {
      name: "POST /api/v1/uploads",
      path: "/api/v1/uploads",
      options: {
        method: "POST",
        json: { kind: "image", scope: "profile_picture", contentType: "image/png", size: 100 },
      },
    },
    { name: "the PATCH", path: "/api/v1/users/me/profile-picture", options: { method: "PATCH" } },
  ])(
    "case 43: without R2 credentials to presign with, $name is a clean 5xx naming nothing secret, and writes nothing",
    async ({ path, options }) => {
      mockWorkOS();
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const user = await createUser();
      const upload = await createUpload(user);
      const response = await call(path, {
        json: { uploadId: upload.id },
        ...options,
        token: await signToken({ sub: user.workosUserId }),
        env: { R2_SECRET_ACCESS_KEY: "" },
      });
      expect(response.status).toBeGreaterThanOrEqual(500);
      expect(await response.clone().text()).not.toMatch(/R2_|secret|access.key/i);
      await expectError(
        response,
        response.status,
        response.status === 503 ? "unavailable" : "internal_error",
      );
      expect(await countUploads(user.id)).toBe(1);
      await expectUnchanged(user, upload);
      expect(logOf(errors)).toContain("R2_SECRET_ACCESS_KEY");
    },
  );
});

describe("the production environment (ENVIRONMENT = production)", () => {
  it("serves with a complete production configuration", async () => {
    mockWorkOS();
    expect((await getMe(PRODUCTION)).status).toBe(200);
    expect((await call("/healthz", { env: PRODUCTION })).status).toBe(200);
  });

  it.for(refusedInProduction.map((c) => ({ setting: c[0], value: c[1], shown: shown(c) })))(
    "is alone in refusing $shown: development accepts it",
    async ({ setting, value }) => {
      mockWorkOS({ [HTTP_JWKS_URL]: () => Response.json(publicJwks) });
      expect((await getMe({ ...DEVELOPMENT, [setting]: value as string })).status).toBe(200);
    },
  );
});
