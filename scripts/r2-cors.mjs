// Set the R2 bucket's CORS policy from CORS_ORIGINS of [env.production], so browsers may PUT to
// presigned upload URLs (`npm run r2:cors -- --help` for the options). --print shows the policy and
// calls nothing; otherwise `wrangler r2 bucket cors set` applies it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ConfigError, productionCorsOrigins } from "../src/lib/config.ts";
import { r2CorsPolicy } from "../src/lib/r2-cors-policy.ts";
import { parseCommandLine } from "./lib/command-line.mjs";
import { configOption, readProductionConfig } from "./lib/production-config.mjs";

const values = parseCommandLine({
  name: "r2:cors",
  invocation: "npm run r2:cors --",
  summary:
    "Sets the production R2 bucket's CORS policy from CORS_ORIGINS of [env.production], so browsers may PUT\n" +
    "to presigned upload URLs (wrangler r2 bucket cors set).",
  options: {
    print: { type: "boolean", default: false, description: "print the policy and call nothing" },
    config: configOption,
  },
});
const config = readProductionConfig(values.config);
/** @type {string[]} */
let origins;
try {
  origins = productionCorsOrigins(config.vars ?? {});
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  // An origin a browser never sends would be pushed to the bucket and silently never match.
  process.stderr.write(
    `Not setting a CORS policy: CORS_ORIGINS of [env.production] is not valid:\n${error.problems.map((problem) => `  - ${problem}\n`).join("")}`,
  );
  process.exit(1);
}
if (origins.length === 0) {
  process.stderr.write(
    "Not setting a CORS policy: CORS_ORIGINS of [env.production] is empty, so no browser could use it.\n" +
      "Put the front end's origins there (comma-separated), then run this again.\n",
  );
  process.exit(1);
}
const policy = JSON.stringify(r2CorsPolicy(origins), null, 2);
if (values.print) {
  process.stdout.write(`${policy}\n`);
  process.exit(0);
}

const bucket = config.r2_buckets.find((binding) => binding.binding === "BUCKET")?.bucket_name;
if (!bucket) {
  process.stderr.write("Not setting a CORS policy: [env.production] binds no R2 bucket as BUCKET.\n");
  process.exit(1);
}
const dir = mkdtempSync(path.join(tmpdir(), "r2-cors-"));
try {
  const file = path.join(dir, "cors.json");
  writeFileSync(file, policy);
  // `npm run` puts the project's wrangler first on the PATH.
  const args = ["r2", "bucket", "cors", "set", bucket, "--file", file, "--force"];
  const result = spawnSync("wrangler", [...args, "--config", values.config, "--env", "production"], {
    stdio: "inherit",
  });
  if (result.error) throw result.error;
  process.exitCode = result.status ?? 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
