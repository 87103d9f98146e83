import { describe, expect, it } from "vitest";
import { stack } from "./people";

// The asset server's routing as wrangler dev runs it (the workerd suite calls the worker directly).
describe("static assets", () => {
  it("serves the page's scripts and styles at their paths, with nosniff", async () => {
    for (const [file, type] of [
      ["/profile/main.js", "text/javascript"],
      ["/profile/profile.css", "text/css"],
      ["/docs/vendor/swagger-ui-bundle.js", "text/javascript"],
    ]) {
      const response = await fetch(`${stack.pageOrigin}${file}`);
      expect(response.status, file).toBe(200);
      expect(response.headers.get("Content-Type"), file).toMatch(new RegExp(`^${type}`));
      expect(response.headers.get("X-Content-Type-Options"), file).toBe("nosniff");
      await response.body?.cancel();
    }
  });

  it("never serves a page's HTML without the worker (and so without its policy)", async () => {
    for (const path of ["/profile/index.html", "/docs/index.html", "/profile/", "/docs/"]) {
      const response = await fetch(`${stack.pageOrigin}${path}`);
      expect(response.status, path).toBe(404);
      expect(await response.json()).toEqual({ detail: "Not found.", code: "not_found" });
    }
    const page = await fetch(`${stack.pageOrigin}/profile`);
    expect(page.headers.get("Content-Security-Policy")).toContain("script-src 'self'");
    await page.body?.cancel();
  });

  it("keeps the API's paths for the worker and ships no build files", async () => {
    const health = await fetch(`${stack.apiOrigin}/healthz`);
    expect(await health.json()).toEqual({ status: "ok" });
    const tsconfig = await fetch(`${stack.pageOrigin}/tsconfig.json`);
    expect(tsconfig.status).toBe(404);
    await tsconfig.body?.cancel();
  });
});
