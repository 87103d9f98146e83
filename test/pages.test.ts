import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { scopeRules } from "../src/pictures/upload-rules";
import { call } from "./helpers/api";

/** The page's policy as a map of directive to sources. */
function policyOf(response: Response): Map<string, string[]> {
  const header = response.headers.get("Content-Security-Policy") ?? "";
  return new Map(
    header.split(";").map((directive) => {
      const [name = "", ...sources] = directive.trim().split(/\s+/);
      return [name, sources];
    }),
  );
}

/** Every tag of `name` in the HTML, as the attribute maps HTMLRewriter sees. */
async function tags(html: string, name: string): Promise<Record<string, string>[]> {
  const found: Record<string, string>[] = [];
  await new HTMLRewriter()
    .on(name, { element: (element) => void found.push(Object.fromEntries(element.attributes)) })
    .transform(new Response(html))
    .text();
  return found;
}

const lockedDown = {
  "default-src": ["'none'"],
  "base-uri": ["'none'"],
  "form-action": ["'none'"],
  "frame-ancestors": ["'none'"],
};

describe("GET /profile (the profile-photo page)", () => {
  it("serves the page with a policy allowing its own origin and the bucket's, and no inline script", async () => {
    const response = await call("/profile");
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(response.headers.get("Referrer-Policy")).toBe("no-referrer");
    expect(Object.fromEntries(policyOf(response))).toEqual({
      ...lockedDown,
      "script-src": ["'self'"],
      "style-src": ["'self'"],
      // The test configuration's bucket: R2_S3_ENDPOINT unset, so R2's own endpoint.
      "img-src": ["'self'", "blob:", "https://testaccount.r2.cloudflarestorage.com"],
      "connect-src": ["'self'", "https://testaccount.r2.cloudflarestorage.com"],
    });
    const html = await response.text();
    const scripts = await tags(html, "script");
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) expect(script.src).toMatch(/^\/profile\/[a-z-]+\.js$/);
    expect(html).not.toMatch(/\son[a-z]+\s*=/i); // no inline event handlers either
    // Empty: the page calls its own origin.
    expect(await tags(html, 'meta[name="profile-api-origin"]')).toEqual([
      { name: "profile-api-origin", content: "" },
    ]);
  });

  it("points the page and its policy at PAGE_API_ORIGIN and the bucket endpoint, and no identity provider", async () => {
    const response = await call("/profile", {
      env: {
        PAGE_API_ORIGIN: "https://api.example.com",
        R2_S3_ENDPOINT: "https://storage.example.com/s3",
      },
    });
    expect(response.status).toBe(200);
    const policy = policyOf(response);
    expect(policy.get("connect-src")).toEqual([
      "'self'",
      "https://api.example.com",
      "https://storage.example.com",
    ]);
    // Avatars: thumbnails from the bucket, initials images from the API; never a WorkOS picture's host.
    expect(policy.get("img-src")).toEqual([
      "'self'",
      "blob:",
      "https://storage.example.com",
      "https://api.example.com",
    ]);
    const meta = await tags(await response.text(), 'meta[name="profile-api-origin"]');
    expect(meta).toEqual([{ name: "profile-api-origin", content: "https://api.example.com" }]);
  });

  it("limits the file input to the API's own rules for profile pictures", async () => {
    const html = await (await call("/profile")).text();
    const [input, ...others] = await tags(html, 'input[type="file"]');
    expect(others).toEqual([]);
    expect(input?.accept?.split(",")).toEqual(Object.keys(scopeRules.profile_picture.types));
    expect(Number(input?.["data-max-bytes"])).toBe(scopeRules.profile_picture.maxBytes);
  });
});

describe("GET /docs (the API reference)", () => {
  it("loads its renderer from this worker's own assets only, with a policy that allows nothing else", async () => {
    const response = await call("/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("Content-Type")).toBe("text/html; charset=utf-8");
    const policy = Object.fromEntries(policyOf(response));
    expect(policy).toMatchObject({ ...lockedDown, "script-src": ["'self'"], "connect-src": ["'self'"] });
    const html = await response.text();
    const files = [
      ...(await tags(html, "script")).map((script) => script.src),
      ...(await tags(html, 'link[rel="stylesheet"]')).map((link) => link.href),
    ];
    expect(files).toEqual([
      "/docs/vendor/swagger-ui-bundle.js",
      "/docs/docs.js",
      "/docs/vendor/swagger-ui.css",
    ]);
    // Each one is really among the assets: the build step copied the renderer.
    const bodies = new Map<string | undefined, string>();
    for (const file of files) {
      const asset = await env.ASSETS.fetch(new URL(file ?? "", "https://assets.test"));
      expect(asset.status, file).toBe(200);
      bodies.set(file, await asset.text());
    }
    expect(bodies.get("/docs/docs.js")).toContain('url: "/openapi.json"');
  });
});
