// The service's own statements in Node: planned-statements.ts, which builds them with the service's
// builders, bundled with the esbuild that wrangler ships. Node cannot import the service's TypeScript
// as it is: its type stripping refuses parameter properties (`constructor(private readonly url)`) and
// extensionless relative imports.
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

/**
 * What planned-statements.ts exports (described here, not imported: the Node scripts' type check
 * leaves the worker's TypeScript alone).
 * @typedef {{ name: string, sql: string }} PlannedStatement
 * @typedef {{ key: string, name: string, sql: string }} MeasuredStatement
 * @typedef {{
 *   plannedStatements: (values: Record<string, unknown>) => PlannedStatement[],
 *   rowsReadStatements: (values: Record<string, unknown>) => MeasuredStatement[],
 *   literal: (query: { sql: string, params: unknown[] }) => string,
 * }} ServiceStatements
 */

/**
 * planned-statements.ts, bundled into `outDir` and imported.
 * @param {string} outDir a directory of the caller's to write the bundle to
 * @returns {Promise<ServiceStatements>}
 */
export async function loadServiceStatements(outDir) {
  const { build } = createRequire(import.meta.resolve("wrangler"))("esbuild");
  const bundle = path.join(outDir, "planned-statements.mjs");
  await build({
    entryPoints: [path.join(import.meta.dirname, "planned-statements.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    outfile: bundle,
    logLevel: "error",
  });
  return import(pathToFileURL(bundle).href);
}
