import { afterEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { call, json } from "./helpers/api";
import { createUpload, createUser, readUpload, readUser } from "./helpers/db";
import { ISSUER, publicJwks, signToken } from "./helpers/tokens";
import { JWKS_URL, mockWorkOS } from "./helpers/workos";

afterEach(() => vi.restoreAllMocks());

/** A complete production configuration (over the test env's secrets) that the worker accepts. */
const PRODUCTION = {
  ENVIRONMENT: "production",
  WORKOS_CLIENT_ID: "client_01HZY3M4K5N6P7Q8R9S0T1V2W3",
  // The test tokens' issuer and the mocked JWKS, named explicitly: the defaults follow the client id.
  WORKOS_ISSUERS: ISSUER,
  WORKOS_JWKS_URL: JWKS_URL,
  WORKOS_JWKS: "",
  WORKOS_API_URL: "https://workos-api.test",
  R2_ACCOUNT_ID: "0123456789abcdef0123456789abcdef",
  R2_S3_ENDPOINT: "",
  LOCAL_S3_EMULATION: "false",
};
const DEVELOPMENT = { ...PRODUCTION, ENVIRONMENT: "development" };

const HTTP_JWKS_URL = "http://api.workos.com/sso/jwks/client_test";

/** Settings that belong in development only, or are the placeholders wrangler.toml ships with. */
const refusedInProduction: [setting: string, value: string][] = [
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
  ["CORS_ORIGINS", "https://REPLACE_ME.example.com"],
];

function logOf(spy: MockInstance<typeof console.error>): string {
  return spy.mock.calls.map((args) => args.map(String).join(" ")).join("\n");
}

async function getMe(env: Record<string, string>) {
  const user = await createUser();
  return call("/api/v1/users/me", { token: await signToken({ sub: user.workosUserId }), env });
}

describe("the production environment (ENVIRONMENT = production)", () => {
  it("serves with a complete production configuration", async () => {
    mockWorkOS();
    expect((await getMe(PRODUCTION)).status).toBe(200);
    expect((await call("/healthz", { env: PRODUCTION })).status).toBe(200);
  });

  for (const [setting, value] of refusedInProduction) {
    const shown = setting === "WORKOS_JWKS" ? "an inline key set" : JSON.stringify(value);
    it(`refuses ${setting} = ${shown}: 500 without details, nothing written, the setting logged`, async () => {
      mockWorkOS({ [HTTP_JWKS_URL]: () => Response.json(publicJwks) });
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const user = await createUser();
      const upload = await createUpload(user);
      const requestId = `req-production-${setting}`;

      const response = await call("/api/v1/users/me/profile-picture", {
        method: "PATCH",
        token: await signToken({ sub: user.workosUserId }),
        json: { uploadId: upload.id },
        headers: { "X-Request-Id": requestId },
        env: { ...PRODUCTION, [setting]: value },
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
    });

    it(`answers /healthz 503 for ${setting} = ${shown}, logging the setting`, async () => {
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const response = await call("/healthz", { env: { ...PRODUCTION, [setting]: value } });
      expect(response.status).toBe(503);
      expect((await json(response)).code).toBe("unavailable");
      expect(logOf(errors)).toContain(setting);
    });

    it(`accepts ${setting} = ${shown} in development`, async () => {
      mockWorkOS({ [HTTP_JWKS_URL]: () => Response.json(publicJwks) });
      expect((await getMe({ ...DEVELOPMENT, [setting]: value })).status).toBe(200);
    });
  }
});

describe("ENVIRONMENT", () => {
  for (const value of ["", "staging", "Production", undefined]) {
    it(`is a configuration error when it is ${JSON.stringify(value)}`, async () => {
      mockWorkOS();
      const errors = vi.spyOn(console, "error").mockImplementation(() => {});
      const response = await getMe({ ...DEVELOPMENT, ENVIRONMENT: value as string });
      expect(response.status).toBe(500);
      expect(logOf(errors)).toMatch(/ENVIRONMENT must be \\?"development\\?" or \\?"production\\?"/);
    });
  }
});
