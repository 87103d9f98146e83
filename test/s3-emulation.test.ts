import { env } from "cloudflare:workers";
import { AwsClient } from "aws4fetch";
import { describe, expect, it } from "vitest";
import { presignUrl } from "../src/lib/presign";
import * as images from "./fixtures/images";
import { call, json } from "./helpers/api";
import { emulated, S3_ENDPOINT } from "./helpers/uploads";

const r2 = {
  endpoint: S3_ENDPOINT,
  bucket: "profile-pictures",
  accessKeyId: "test-access-key-id",
  secretAccessKey: "test-secret-access-key",
};
const now = () => Math.floor(Date.now() / 1000);
const freshKey = () => `uploads/${crypto.randomUUID()}/original`;

function presign(
  method: "GET" | "HEAD" | "PUT",
  key: string,
  options: { signedAt?: number; expires?: number } = {},
) {
  return presignUrl(r2, {
    method,
    key,
    expiresInSeconds: options.expires ?? 600,
    signedAt: options.signedAt,
  });
}

function edit(url: string, change: (url: URL) => void): string {
  const edited = new URL(url);
  change(edited);
  return edited.toString();
}

async function expectS3Error(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("Content-Type")).toBe("application/xml");
  const body = await response.text();
  expect(body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>/);
  expect(body).toContain(`<Code>${code}</Code>`);
  expect(body).not.toMatch(/[0-9a-f]{64}/); // never a signature
  return body;
}

describe("/__s3/{bucket}/{key} (local S3 emulation)", () => {
  it("stores a PUT through a presigned URL and serves it back through a presigned GET", async () => {
    const key = freshKey();
    const put = await call(await presign("PUT", key), {
      method: "PUT",
      body: images.png,
      headers: { "Content-Type": "image/png" },
      env: emulated,
    });
    expect(put.status).toBe(200);
    const stored = await env.BUCKET.head(key);
    expect(stored?.size).toBe(images.png.byteLength);
    expect(put.headers.get("ETag")).toBe(stored?.httpEtag);
    expect(stored?.httpMetadata?.contentType).toBe("image/png");

    const get = await call(await presign("GET", key, { expires: 300 }), { env: emulated });
    expect(get.status).toBe(200);
    expect(get.headers.get("Content-Type")).toBe("image/png");
    // R2 sends no Cache-Control the object was not stored with: neither does the emulation.
    expect(get.headers.get("Cache-Control")).toBeNull();
    expect(new Uint8Array(await get.arrayBuffer())).toEqual(images.png);
  });

  it("serves the Cache-Control an object was stored with, and only that", async () => {
    const key = freshKey();
    const cacheControl = "private, max-age=3600, immutable";
    await env.BUCKET.put(key, images.png, { httpMetadata: { contentType: "image/png", cacheControl } });
    const get = await call(await presign("GET", key), { env: emulated });
    expect(get.status).toBe(200);
    expect(get.headers.get("Cache-Control")).toBe(cacheControl);
    const head = await call(await presign("HEAD", key), { method: "HEAD", env: emulated });
    expect(head.headers.get("Cache-Control")).toBe(cacheControl);
  });

  it("answers HEAD with the object's headers and a ranged GET with 206", async () => {
    const key = freshKey();
    await env.BUCKET.put(key, images.jpeg, { httpMetadata: { contentType: "image/jpeg" } });
    const head = await call(await presign("HEAD", key), { method: "HEAD", env: emulated });
    expect(head.status).toBe(200);
    expect(head.headers.get("Content-Type")).toBe("image/jpeg");
    expect(head.headers.get("Content-Length")).toBe(String(images.jpeg.byteLength));
    expect(await head.text()).toBe("");

    const ranged = await call(await presign("GET", key), { headers: { Range: "bytes=0-3" }, env: emulated });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("Content-Range")).toBe(`bytes 0-3/${images.jpeg.byteLength}`);
    expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(images.jpeg.slice(0, 4));
  });

  it("answers 404 NoSuchKey for a missing object and NoSuchBucket for another bucket", async () => {
    await expectS3Error(await call(await presign("GET", freshKey()), { env: emulated }), 404, "NoSuchKey");
    const otherBucket = await presignUrl(
      { ...r2, bucket: "someone-elses" },
      {
        method: "GET",
        key: freshKey(),
        expiresInSeconds: 60,
      },
    );
    await expectS3Error(await call(otherBucket, { env: emulated }), 404, "NoSuchBucket");
  });

  it("case 37: refuses an expired URL with 403 AccessDenied and writes nothing", async () => {
    const key = freshKey();
    const expired = await presign("PUT", key, { signedAt: now() - 601, expires: 600 });
    const response = await call(expired, { method: "PUT", body: images.png, env: emulated });
    const body = await expectS3Error(response, 403, "AccessDenied");
    expect(body).toContain("Request has expired");
    expect(await env.BUCKET.head(key)).toBeNull();
  });

  it("accepts a URL up to its last second", async () => {
    const key = freshKey();
    await env.BUCKET.put(key, "x");
    const response = await call(await presign("GET", key, { signedAt: now() - 598, expires: 600 }), {
      env: emulated,
    });
    expect(response.status).toBe(200);
  });

  it.each<[string, (url: URL) => void, string]>([
    [
      "another key",
      (url) => (url.pathname = url.pathname.replace("/original", "/thumb-256.webp")),
      "SignatureDoesNotMatch",
    ],
    ["a longer expiry", (url) => url.searchParams.set("X-Amz-Expires", "604800"), "SignatureDoesNotMatch"],
    [
      "a later signing time",
      (url) => url.searchParams.set("X-Amz-Date", amzNow(60)),
      "SignatureDoesNotMatch",
    ],
    ["a flipped signature digit", (url) => flipSignature(url), "SignatureDoesNotMatch"],
    ["an added query parameter", (url) => url.searchParams.set("x-id", "PutObject"), "SignatureDoesNotMatch"],
    ["another host", (url) => (url.host = "evil.test"), "SignatureDoesNotMatch"],
    [
      "an extra signed header",
      (url) => url.searchParams.set("X-Amz-SignedHeaders", "content-type;host"),
      "SignatureDoesNotMatch",
    ],
    [
      "no signature",
      (url) => url.searchParams.delete("X-Amz-Signature"),
      "AuthorizationQueryParametersError",
    ],
    [
      "a repeated expiry",
      (url) => url.searchParams.append("X-Amz-Expires", "1"),
      "AuthorizationQueryParametersError",
    ],
    [
      "another algorithm",
      (url) => url.searchParams.set("X-Amz-Algorithm", "AWS4-HMAC-SHA1"),
      "AuthorizationQueryParametersError",
    ],
    [
      "an expiry past 7 days",
      (url) => url.searchParams.set("X-Amz-Expires", "604801"),
      "AuthorizationQueryParametersError",
    ],
    [
      "no host among the signed headers",
      (url) => url.searchParams.set("X-Amz-SignedHeaders", "x-amz-date"),
      "AuthorizationQueryParametersError",
    ],
    ["another region", (url) => editCredential(url, 2, "us-east-1"), "AuthorizationQueryParametersError"],
    ["another service", (url) => editCredential(url, 3, "s4"), "AuthorizationQueryParametersError"],
    ["another access key", (url) => editCredential(url, 0, "AKIAOTHER"), "InvalidAccessKeyId"],
  ])("case 37: refuses a PUT URL edited to %s with 403 and writes nothing", async (_, change, code) => {
    const key = freshKey();
    const url = edit(await presign("PUT", key), change);
    const response = await call(url, {
      method: "PUT",
      body: images.png,
      headers: { "Content-Type": "image/png" },
      env: emulated,
    });
    await expectS3Error(response, 403, code);
    expect(await env.BUCKET.head(key)).toBeNull();
    expect(await env.BUCKET.head(key.replace("/original", "/thumb-256.webp"))).toBeNull();
  });

  it("refuses a URL signed with the right key id but another secret", async () => {
    const key = freshKey();
    const forged = await presignUrl(
      { ...r2, secretAccessKey: "guessed-secret" },
      {
        method: "PUT",
        key,
        expiresInSeconds: 600,
      },
    );
    await expectS3Error(
      await call(forged, { method: "PUT", body: images.png, env: emulated }),
      403,
      "SignatureDoesNotMatch",
    );
    expect(await env.BUCKET.head(key)).toBeNull();
  });

  it("refuses a URL used with another method than the one signed", async () => {
    const key = freshKey();
    await env.BUCKET.put(key, images.png);
    const getUrl = await presign("GET", key);
    await expectS3Error(
      await call(getUrl, { method: "PUT", body: images.jpeg, env: emulated }),
      403,
      "SignatureDoesNotMatch",
    );
    expect((await env.BUCKET.head(key))?.size).toBe(images.png.byteLength);
  });

  it("refuses a signing time in the future", async () => {
    const key = freshKey();
    await env.BUCKET.put(key, "x");
    const future = await presign("GET", key, { signedAt: now() + 3600 });
    const body = await expectS3Error(await call(future, { env: emulated }), 403, "AccessDenied");
    expect(body).toContain("not valid yet");
  });

  it("checks headers that a client chose to sign", async () => {
    const key = freshKey();
    const client = new AwsClient({ ...r2, service: "s3", region: "auto" });
    const signed = await client.sign(`${S3_ENDPOINT}/${r2.bucket}/${key}?X-Amz-Expires=600`, {
      method: "PUT",
      headers: { "Content-Type": "image/png" },
      aws: { signQuery: true, allHeaders: true },
    });
    expect(new URL(signed.url).searchParams.get("X-Amz-SignedHeaders")).toBe("content-type;host");
    const wrongType = await call(signed.url, {
      method: "PUT",
      body: images.png,
      headers: { "Content-Type": "image/jpeg" },
      env: emulated,
    });
    await expectS3Error(wrongType, 403, "SignatureDoesNotMatch");
    expect(await env.BUCKET.head(key)).toBeNull();
    const rightType = await call(signed.url, {
      method: "PUT",
      body: images.png,
      headers: { "Content-Type": "image/png" },
      env: emulated,
    });
    expect(rightType.status).toBe(200);
  });

  it("refuses a second write-once PUT with 412 PreconditionFailed, as R2 does, and keeps the first object", async () => {
    const key = freshKey();
    const url = await presignUrl(r2, {
      method: "PUT",
      key,
      expiresInSeconds: 600,
      headers: { "If-None-Match": "*" },
    });
    const put = (body: Uint8Array) =>
      call(url, { method: "PUT", body, headers: { "If-None-Match": "*" }, env: emulated });
    expect((await put(images.png)).status).toBe(200);
    await expectS3Error(await put(images.jpeg), 412, "PreconditionFailed");
    expect((await env.BUCKET.head(key))?.size).toBe(images.png.byteLength);
  });

  it("answers a browser's preflight for an upload PUT from an allowed origin", async () => {
    const response = await call(await presign("PUT", freshKey()), {
      method: "OPTIONS",
      headers: {
        Origin: "https://app.example.com",
        "Access-Control-Request-Method": "PUT",
        // What a page sends with an upload URL's headers; the browser adds Content-Length itself.
        "Access-Control-Request-Headers": "content-type, if-none-match",
      },
      env: emulated,
    });
    expect(response.status).toBeLessThan(300);
    expect(response.headers.get("Access-Control-Allow-Origin")).toBe("https://app.example.com");
    expect(response.headers.get("Access-Control-Allow-Methods")).toContain("PUT");
    const allowed = (response.headers.get("Access-Control-Allow-Headers") ?? "")
      .toLowerCase()
      .split(/\s*,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(["content-type", "if-none-match"]));
  });

  it("answers 405 for methods S3 presigned URLs do not get here", async () => {
    const response = await call(await presign("GET", freshKey()), { method: "DELETE", env: emulated });
    await expectS3Error(response, 405, "MethodNotAllowed");
  });

  it("does not exist when LOCAL_S3_EMULATION is off: 404, nothing written", async () => {
    const key = freshKey();
    const off = { ...emulated, LOCAL_S3_EMULATION: "false" };
    const put = await call(await presign("PUT", key), { method: "PUT", body: images.png, env: off });
    expect(put.status).toBe(404);
    expect(await json(put)).toEqual({ detail: "Not found.", code: "not_found" });
    expect(await env.BUCKET.head(key)).toBeNull();
    await env.BUCKET.put(key, images.png);
    const unset = { ...emulated, LOCAL_S3_EMULATION: "" };
    expect((await call(await presign("GET", key), { env: unset })).status).toBe(404);
  });
});

function amzNow(offsetSeconds: number): string {
  return new Date((now() + offsetSeconds) * 1000).toISOString().replace(/[:-]|\.\d{3}/g, "");
}

function flipSignature(url: URL) {
  const signature = url.searchParams.get("X-Amz-Signature") ?? "";
  url.searchParams.set("X-Amz-Signature", (signature[0] === "0" ? "1" : "0") + signature.slice(1));
}

function editCredential(url: URL, index: number, value: string) {
  const parts = (url.searchParams.get("X-Amz-Credential") ?? "").split("/");
  parts[index] = value;
  url.searchParams.set("X-Amz-Credential", parts.join("/"));
}
