import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { experimental_readRawConfig } from "wrangler";

/**
 * The test worker's wrangler config: wrangler.toml's local-development configuration without its
 * `[secrets]`, written where no .dev.vars or .env lies beside it. Given wrangler.toml itself, wrangler
 * would read a developer's .dev.vars (or, as secrets are declared, .env and process.env) into the
 * test worker, and say so once per test file. The tests set every var and secret themselves
 * (`bindings` below), so nothing of the machine's may reach them.
 */
function testWranglerConfig(root: string): string {
  const { rawConfig } = experimental_readRawConfig({ config: path.join(root, "wrangler.toml") });
  // `[build]` goes too: npm test copies the docs' renderer into public/ before Vitest starts.
  const { secrets: _secrets, env: _environments, build: _build, ...local } = rawConfig;
  const dir = path.join(root, ".wrangler", "test-config");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "wrangler.json");
  const config = {
    ...local,
    main: path.resolve(root, local.main ?? "src/index.ts"),
    // Paths in the written config are relative to it: point the static assets back at public/.
    ...(local.assets && {
      assets: { ...local.assets, directory: path.resolve(root, local.assets.directory ?? "public") },
    }),
    d1_databases: local.d1_databases?.map((database) => ({
      ...database,
      migrations_dir: path.resolve(root, database.migrations_dir ?? "migrations"),
    })),
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  // One signing key for the whole run, made fresh each time: no private key is committed, and the
  // worker's isolate-wide JWKS cache sees the same key from every test file.
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const signingJwk = { ...privateKey.export({ format: "jwk" }), kid: "test-key-1", alg: "RS256", use: "sig" };

  const workers = {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: testWranglerConfig(import.meta.dirname) },
        miniflare: {
          // An empty database of its own, for the test that migrates a database holding data.
          d1Databases: { MIGRATION_TEST_DB: "migration-test" },
          // A real limiter with a tiny budget, swapped in by the rate-limit tests.
          ratelimits: { TIGHT_LIMITER: { namespace_id: "9001", simple: { limit: 3, period: 60 } } },
          queueProducers: {
            JOBS: { queueName: "test-jobs-not-consumed" },
            CONSUMED_JOBS: { queueName: "profile-picture-jobs" },
          },
          bindings: {
            TEST_MIGRATIONS: migrations,
            TEST_SIGNING_JWK: JSON.stringify(signingJwk),
            // The test configuration, every var and secret: explicit, so nothing local leaks into tests.
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
            MAX_ATTACHMENT_BYTES_PER_USER: "1073741824",
            CORS_ORIGINS: "https://app.example.com",
            LOCAL_S3_EMULATION: "true",
          },
        },
      }),
    ],
    test: {
      name: "workers",
      // Table rows name themselves (`case 12: ...`): their titles are printed whole, never cut at 40 characters.
      taskTitleValueFormatTruncate: 0,
      include: ["test/**/*.test.ts"],
      exclude: ["test/node/**", "test/browser/**"],
      setupFiles: ["./test/setup/apply-migrations.ts"],
    },
  };

  return {
    test: {
      // A passing run stays readable (the worker logs a JSON line per request); a failing test's
      // console output is still shown with it.
      silent: "passed-only",
      projects: [
        workers,
        // Scripts a user runs (dev tooling, deploy helpers) are Node programs: their tests run in Node.
        { test: { name: "node", include: ["test/node/**/*.test.ts"], environment: "node" } },
      ],
    },
  };
});
