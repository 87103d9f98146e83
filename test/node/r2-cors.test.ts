import { describe, expect, it } from "vitest";
import { r2CorsPolicy } from "../../src/lib/r2-cors-policy";
import { COMMITTED_TOML, filledInToml, runScript } from "./helpers/wrangler-toml";

// No wrangler on the PATH: had the script tried to call Cloudflare, it would have failed.
const withoutWrangler = { ...process.env, PATH: "" };

describe("the R2 bucket's CORS policy (npm run r2:cors)", () => {
  it("lets the listed origins GET and PUT with the signed headers, and exposes ETag, in R2's format", () => {
    expect(r2CorsPolicy(["https://app.example.com", "https://admin.example.com"])).toEqual({
      rules: [
        {
          allowed: {
            origins: ["https://app.example.com", "https://admin.example.com"],
            methods: ["GET", "PUT"],
            headers: ["Content-Type", "If-None-Match"],
          },
          exposeHeaders: ["ETag"],
          maxAgeSeconds: 3600,
        },
      ],
    });
  });

  it("refuses to make a policy that allows no origin", () => {
    expect(() => r2CorsPolicy([])).toThrow(/CORS_ORIGINS/);
  });

  it("--print shows the policy for [env.production]'s CORS_ORIGINS, read as the worker reads them", () => {
    const config = filledInToml({ CORS_ORIGINS: " https://app.example.com ,https://admin.example.com," });
    const { status, stdout, stderr } = runScript(
      "r2-cors.mjs",
      ["--print", "--config", config],
      withoutWrangler,
    );
    expect({ status, stderr }).toEqual({ status: 0, stderr: "" });
    expect(JSON.parse(stdout)).toEqual(
      r2CorsPolicy(["https://app.example.com", "https://admin.example.com"]),
    );
  });

  const refused: [origins: string, print: boolean][] = [
    ["https://app.example.com/", false],
    ["app.example.com", true],
    ["http://app.example.com", false],
  ];
  for (const [origins, print] of refused) {
    it(`stops with exit 1, naming CORS_ORIGINS, rather than push ${JSON.stringify(origins)} to the bucket${print ? " (--print too)" : ""}`, () => {
      const config = filledInToml({ CORS_ORIGINS: `https://admin.example.com,${origins}` });
      const args = [...(print ? ["--print"] : []), "--config", config];
      const { status, stdout, stderr } = runScript("r2-cors.mjs", args, withoutWrangler);
      expect(status).toBe(1);
      expect(stdout).toBe("");
      expect(stderr).toMatch(
        /^Not setting a CORS policy: CORS_ORIGINS of \[env\.production\] is not valid:\n {2}- CORS_ORIGINS\.1 /,
      );
    });
  }

  // The placeholder rule is the worker's whatever the case: a lower-case one is still an origin's shape.
  it("stops with exit 1 rather than push a placeholder origin written in lower case", () => {
    const config = filledInToml({ CORS_ORIGINS: "https://replace_me.example.com" });
    const { status, stdout, stderr } = runScript("r2-cors.mjs", ["--config", config], withoutWrangler);
    expect({ status, stdout }).toEqual({ status: 1, stdout: "" });
    expect(stderr).toBe(
      "Not setting a CORS policy: CORS_ORIGINS of [env.production] is not valid:\n" +
        "  - CORS_ORIGINS is still the placeholder of wrangler.toml (REPLACE_ME)\n",
    );
  });

  for (const print of [true, false]) {
    it(`stops with exit 1 when [env.production] lists no origins${print ? " (--print too)" : ""}`, () => {
      const args = [...(print ? ["--print"] : []), "--config", COMMITTED_TOML];
      const { status, stdout, stderr } = runScript("r2-cors.mjs", args, withoutWrangler);
      expect(status).toBe(1);
      expect(stdout).toBe("");
      expect(stderr).toMatch(/CORS_ORIGINS of \[env\.production\] is empty/);
    });
  }
});
