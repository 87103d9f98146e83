/**
 * `[env.production]` of wrangler.toml as wrangler resolves it, and what stops it from being
 * deployed. The vars go through the worker's own rules (src/lib/config.ts, imported as TypeScript:
 * Node 22 strips the types), so the deploy check and the running worker refuse the same things.
 */
import path from "node:path";
import { unstable_readConfig } from "wrangler";
import { varsProblems } from "../../src/lib/config.ts";
import { existingFile } from "./command-line.mjs";

/** The `--config` option of the scripts that read the production config. */
export const configOption = {
  type: "string",
  placeholder: "FILE",
  default: path.join(import.meta.dirname, "..", "..", "wrangler.toml"),
  parse: existingFile,
  description: "the wrangler config to read",
};

/** @typedef {ReturnType<typeof unstable_readConfig>} WranglerConfig */

/**
 * @param {string} configPath the wrangler.toml to read
 * @returns {WranglerConfig}
 */
export function readProductionConfig(configPath) {
  return unstable_readConfig({ config: configPath, env: "production" }, { hideWarnings: true });
}

/** What `wrangler d1 create` never returns: the id committed as a placeholder. */
const PLACEHOLDER_DATABASE_ID = /^0{8}-0{4}-0{4}-0{4}-0{12}$/;

/**
 * Everything in the production environment that must change before a deploy, one line each,
 * naming the setting; empty when it is ready.
 *
 * @param {WranglerConfig} config
 * @returns {string[]}
 */
export function productionConfigProblems(config) {
  /** @type {Record<string, unknown>} */
  const vars = config.vars ?? {};
  const problems = [];
  // The worker applies the production rules only when told it is production: make sure it is.
  if (vars.ENVIRONMENT !== "production") problems.push('ENVIRONMENT must be "production"');
  problems.push(...varsProblems({ ...vars, ENVIRONMENT: "production" }));
  for (const database of config.d1_databases) {
    if (!database.database_id || PLACEHOLDER_DATABASE_ID.test(database.database_id)) {
      problems.push(
        `d1_databases ${database.binding} database_id is still the all-zero placeholder (wrangler d1 create prints the real one)`,
      );
    }
  }
  // Presigned URLs name R2_BUCKET_NAME, the worker reads through the BUCKET binding: one bucket.
  const bucket = config.r2_buckets.find((binding) => binding.binding === "BUCKET");
  if (bucket && typeof vars.R2_BUCKET_NAME === "string" && bucket.bucket_name !== vars.R2_BUCKET_NAME) {
    problems.push("R2_BUCKET_NAME must be the bucket_name of the BUCKET binding");
  }
  return problems;
}
