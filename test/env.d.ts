declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    /** An empty D1 database, migrated step by step by test/migrations.test.ts. */
    MIGRATION_TEST_DB: D1Database;
    /** The private RSA JWK (JSON) that test tokens are signed with; its public half is the JWKS. */
    TEST_SIGNING_JWK: string;
    /** A Rate Limiting binding allowing 3 a minute, for the 429 tests. */
    TIGHT_LIMITER: RateLimit;
    /**
     * The queue this worker consumes (`profile-picture-jobs`). The tests' `JOBS` sends to a queue no
     * one consumes, so no test's requests start background work behind its back; a test that wants
     * the real send-then-consume path passes `JOBS: env.CONSUMED_JOBS`.
     */
    CONSUMED_JOBS: Queue;
  }
}
