import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { presignUrl } from "../src/lib/presign";
import { bucketCorsRule } from "../src/lib/r2-cors-policy";
import * as images from "./fixtures/images";
import { call } from "./helpers/api";
import { emulated, S3_ENDPOINT } from "./helpers/uploads";

// The test configuration's CORS_ORIGINS.
const ALLOWED = "https://app.example.com";
const REFUSED = "https://evil.example";

const r2 = {
  endpoint: S3_ENDPOINT,
  bucket: "profile-pictures",
  accessKeyId: "test-access-key-id",
  secretAccessKey: "test-secret-access-key",
};
const freshKey = () => `uploads/${crypto.randomUUID()}/original`;
const presign = (method: "GET" | "PUT", key: string) =>
  presignUrl(r2, { method, key, expiresInSeconds: 600 });

function preflight(url: string, origin: string, method: string, headers?: string) {
  return call(url, {
    method: "OPTIONS",
    headers: {
      Origin: origin,
      "Access-Control-Request-Method": method,
      ...(headers ? { "Access-Control-Request-Headers": headers } : {}),
    },
    env: emulated,
  });
}

async function expectRefusedPreflight(response: Response) {
  expect(response.status).toBe(403);
  expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
  expect(response.headers.get("Access-Control-Allow-Methods")).toBeNull();
  expect(response.headers.get("Access-Control-Allow-Headers")).toBeNull();
  expect(await response.text()).toContain("<Code>AccessForbidden</Code>");
}

describe("/__s3 CORS (the bucket's policy, as R2 answers it)", () => {
  it("allows a preflight for the upload PUT from an allowed origin, with the signed headers", async () => {
    const url = await presign("PUT", freshKey());
    const response = await preflight(url, ALLOWED, "PUT", "content-type,if-none-match");
    expect(response.status).toBe(200);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(ALLOWED);
    expect(response.headers.get("Access-Control-Allow-Methods")?.split(/,\s*/)).toContain("PUT");
    expect(response.headers.get("Access-Control-Allow-Headers")).toBe("content-type, if-none-match");
    expect(response.headers.get("Access-Control-Max-Age")).toBe(String(bucketCorsRule.maxAgeSeconds));
    expect(response.headers.get("Vary")).toContain("Origin");
    // The API's own policy (Authorization, X-Request-Id...) is not the bucket's.
    expect(response.headers.get("Access-Control-Allow-Credentials")).toBeNull();
  });

  it("allows a preflight for a GET from an allowed origin", async () => {
    const response = await preflight(await presign("GET", freshKey()), ALLOWED, "GET");
    expect(response.status).toBe(200);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(ALLOWED);
    expect(response.headers.get("Access-Control-Allow-Methods")?.split(/,\s*/)).toContain("GET");
  });

  it.each<[string, string, string, string | undefined]>([
    ["an origin not in CORS_ORIGINS", REFUSED, "PUT", "content-type"],
    ["an allowed origin asking for DELETE", ALLOWED, "DELETE", undefined],
    ["an allowed origin asking for a header nothing signs", ALLOWED, "PUT", "content-type,x-amz-acl"],
    ["an allowed origin asking to send Authorization", ALLOWED, "PUT", "authorization"],
  ])("refuses a preflight from %s: 403, no CORS headers", async (_, origin, method, headers) => {
    await expectRefusedPreflight(await preflight(await presign("PUT", freshKey()), origin, method, headers));
  });

  it("answers the PUT from an allowed origin with its origin and ETag exposed", async () => {
    const key = freshKey();
    const response = await call(await presign("PUT", key), {
      method: "PUT",
      body: images.png,
      headers: { Origin: ALLOWED, "Content-Type": "image/png" },
      env: emulated,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(ALLOWED);
    expect(response.headers.get("Access-Control-Expose-Headers")).toBe("ETag");
    expect(response.headers.get("ETag")).toBe((await env.BUCKET.head(key))?.httpEtag);
  });

  it("lets an allowed page read a refusal too (a 403 with its CORS headers), and stores nothing", async () => {
    const key = freshKey();
    const url = new URL(await presign("PUT", key));
    url.searchParams.set("X-Amz-Expires", "60");
    const response = await call(url.toString(), {
      method: "PUT",
      body: images.png,
      headers: { Origin: ALLOWED },
      env: emulated,
    });
    expect(response.status).toBe(403);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe(ALLOWED);
    expect(await env.BUCKET.head(key)).toBeNull();
  });

  it("gives a refused origin no CORS headers on a GET", async () => {
    const key = freshKey();
    await env.BUCKET.put(key, images.png);
    const response = await call(await presign("GET", key), { headers: { Origin: REFUSED }, env: emulated });
    expect(response.status).toBe(200);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
    expect(response.headers.get("Access-Control-Expose-Headers")).toBeNull();
  });

  it("does not exist when LOCAL_S3_EMULATION is off: a preflight is 404", async () => {
    const response = await call(await presign("PUT", freshKey()), {
      method: "OPTIONS",
      headers: { Origin: ALLOWED, "Access-Control-Request-Method": "PUT" },
      env: { ...emulated, LOCAL_S3_EMULATION: "false" },
    });
    expect(response.status).toBe(404);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBeNull();
  });
});
