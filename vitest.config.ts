import { generateKeyPairSync } from "node:crypto";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  // One signing key for the whole run, made fresh each time: no private key is committed, and the
  // worker's isolate-wide JWKS cache sees the same key from every test file.
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const signingJwk = { ...privateKey.export({ format: "jwk" }), kid: "test-key-1", alg: "RS256", use: "sig" };

  const workers = {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          // An empty database of its own, for the test that migrates a database holding data.
          d1Databases: { MIGRATION_TEST_DB: "migration-test" },
          // A real limiter with a tiny budget, swapped in by the rate-limit tests.
          ratelimits: { TIGHT_LIMITER: { namespace_id: "9001", simple: { limit: 3, period: 60 } } },
          bindings: {
            TEST_MIGRATIONS: migrations,
            TEST_SIGNING_JWK: JSON.stringify(signingJwk),
            // The test configuration: explicit, so a local .dev.vars never leaks into tests.
            ENVIRONMENT: "development",
            WORKOS_CLIENT_ID: "client_test",
            WORKOS_ISSUERS: "",
            WORKOS_JWKS_URL: "",
            WORKOS_JWKS: "",
            WORKOS_API_URL: "https://workos-api.test",
            WORKOS_API_KEY: "sk_test_workos_api_key",
            WORKOS_WEBHOOK_SECRET: "whsec_test_secret",
            R2_ACCOUNT_ID: "testaccount",
            R2_BUCKET_NAME: "profile-pictures",
            R2_ACCESS_KEY_ID: "test-access-key-id",
            R2_SECRET_ACCESS_KEY: "test-secret-access-key",
            R2_S3_ENDPOINT: "",
            THUMB_URL_TTL_SECONDS: "3600",
            CORS_ORIGINS: "https://app.example.com",
            LOCAL_S3_EMULATION: "true",
          },
        },
      }),
    ],
    test: {
      name: "workers",
      include: ["test/**/*.test.ts"],
      exclude: ["test/node/**"],
      setupFiles: ["./test/setup/apply-migrations.ts"],
    },
  };

  return {
    test: {
      projects: [
        workers,
        // Scripts a user runs (dev tooling, deploy helpers) are Node programs: their tests run in Node.
        { test: { name: "node", include: ["test/node/**/*.test.ts"], environment: "node" } },
      ],
    },
  };
});
