// `npm run deploy` runs this before touching anything remote: it stops the deploy (exit 1) while
// [env.production] of wrangler.toml still holds placeholders or development settings, naming each.
// npm run check:production [-- --config path/to/wrangler.toml]
import path from "node:path";
import { parseArgs } from "node:util";
import { productionConfigProblems, readProductionConfig } from "./lib/production-config.mjs";

const { values } = parseArgs({
  options: { config: { type: "string", default: path.join(import.meta.dirname, "..", "wrangler.toml") } },
});
const problems = productionConfigProblems(readProductionConfig(values.config));
if (problems.length > 0) {
  process.stderr.write(
    `Not deploying: [env.production] of ${path.relative(process.cwd(), values.config)} is not ready:\n` +
      `${problems.map((problem) => `  - ${problem}\n`).join("")}`,
  );
  process.exit(1);
}
process.stdout.write("[env.production] is ready to deploy.\n");
