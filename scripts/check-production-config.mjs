// `npm run deploy` runs this before touching anything remote: it stops the deploy (exit 1) while
// [env.production] of wrangler.toml still holds placeholders or development settings, naming each.
// npm run check:production (`-- --help` for the options)
import path from "node:path";
import { parseCommandLine } from "./lib/command-line.mjs";
import { configOption, productionConfigProblems, readProductionConfig } from "./lib/production-config.mjs";

const values = parseCommandLine({
  name: "check:production",
  invocation: "npm run check:production --",
  summary:
    "Exits 1, naming each, while [env.production] of wrangler.toml still holds placeholders or development\n" +
    "settings; npm run deploy runs it before touching anything remote.",
  options: {
    config: configOption,
  },
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
