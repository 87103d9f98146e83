import { defineConfig } from "vitest/config";

// `npm run test:browser`: the profile-photo page and /docs in headless Chromium against a real
// `wrangler dev` (test/browser/). Not part of `npm test`, which stays fast and browser-free.
export default defineConfig({
  test: {
    name: "browser",
    include: ["test/browser/**/*.test.ts"],
    environment: "node",
    globalSetup: ["test/browser/global-setup.ts"],
    // One wrangler dev and a browser per file on a 2-core machine: files run one after another.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
