// Copies the API reference's renderer from node_modules into public/docs/vendor/ (git-ignored), so
// /docs is served from the worker's own assets and renders with no CDN and no internet. The version
// is the one package-lock.json pins; wrangler runs this before `dev`, `deploy` and dry runs
// (`[build]` in wrangler.toml) and `npm test` runs it too.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const FILES = ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"];

const root = path.resolve(import.meta.dirname, "..");
const from = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
const to = path.join(root, "public", "docs", "vendor");
mkdirSync(to, { recursive: true });
for (const file of FILES) copyFileSync(path.join(from, file), path.join(to, file));
const { version } = JSON.parse(readFileSync(path.join(from, "package.json"), "utf8"));
writeFileSync(path.join(to, "VERSION"), `swagger-ui-dist ${version}\n`);
