import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { productionConfigProblems, readProductionConfig } from "../../scripts/lib/production-config.mjs";
import { COMMITTED_TOML, filledInToml, ROOT, runScript } from "./helpers/wrangler-toml";

const problemsOf = (configPath: string) => productionConfigProblems(readProductionConfig(configPath));

describe("the production deploy check (npm run check:production)", () => {
  it("names each placeholder still in the committed wrangler.toml", () => {
    const problems = problemsOf(COMMITTED_TOML);
    expect(problems).toHaveLength(3);
    expect(problems).toEqual([
      expect.stringMatching(/^WORKOS_CLIENT_ID .*REPLACE_ME/),
      expect.stringMatching(/^R2_ACCOUNT_ID .*REPLACE_ME/),
      expect.stringMatching(/^d1_databases DB database_id .*placeholder/),
    ]);
  });

  it("finds nothing once the placeholders are filled in", () => {
    expect(problemsOf(filledInToml())).toEqual([]);
  });

  const refused: [setting: string, value: string | null, because: RegExp][] = [
    ["WORKOS_JWKS", '{"keys":[]}', /local development only/],
    ["LOCAL_S3_EMULATION", "true", /local development only/],
    ["WORKOS_JWKS_URL", "http://api.workos.com/sso/jwks/client_01HZY3M4K5N6P7Q8R9S0T1V2W3", /https/],
    ["WORKOS_API_URL", "http://api.workos.com", /https/],
    ["WORKOS_ISSUERS", "https://api.workos.com, http://auth.example.com", /https/],
    ["R2_S3_ENDPOINT", "http://localhost:8787/__s3", /https/],
    ["R2_ACCOUNT_ID", "local", /32 hex digits/],
    ["WORKOS_CLIENT_ID", "client_local_dev", /client_/],
    ["CORS_ORIGINS", "https://REPLACE_ME.example.com", /placeholder/],
    ["CORS_ORIGINS", "https://app.example.com/", /origins as browsers send them/],
    ["CORS_ORIGINS", "app.example.com", /origins as browsers send them/],
    ["CORS_ORIGINS", "http://app.example.com", /https:\/\/host\[:port\] in production/],
    ["R2_BUCKET_NAME", "another-bucket", /BUCKET binding/],
    ["ENVIRONMENT", "development", /"production"/],
    ["ENVIRONMENT", null, /"production"/],
  ];
  for (const [setting, value, because] of refused) {
    it(`refuses ${setting} = ${JSON.stringify(value)} in [env.production], naming it`, () => {
      const problems = problemsOf(filledInToml({ [setting]: value }));
      expect(problems).toEqual([expect.stringMatching(new RegExp(`^${setting}\\b`))]);
      expect(problems[0]).toMatch(because);
    });
  }

  it("stops with exit 1 and a list of what to change, read by Node from the worker's own rules", () => {
    const { status, stdout, stderr } = runScript("check-production-config.mjs", ["--config", COMMITTED_TOML]);
    expect(status).toBe(1);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^Not deploying: \[env\.production\] of wrangler\.toml is not ready:\n/);
    for (const setting of ["WORKOS_CLIENT_ID", "R2_ACCOUNT_ID", "d1_databases DB database_id"]) {
      expect(stderr).toContain(`  - ${setting} `);
    }
  });

  it("lets a filled-in configuration through with exit 0", () => {
    const { status, stdout } = runScript("check-production-config.mjs", ["--config", filledInToml()]);
    expect(status).toBe(0);
    expect(stdout).toContain("ready to deploy");
  });

  it("runs first in npm run deploy, before the remote migrations and the deploy", () => {
    const { scripts } = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    const steps = scripts.deploy?.split("&&").map((step) => step.trim());
    expect(steps?.[0]).toBe("npm run -s check:production");
    expect(steps?.slice(1).every((step) => step.startsWith("wrangler "))).toBe(true);
    expect(scripts["check:production"]).toBe("node scripts/check-production-config.mjs");
  });
});
