import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/lib/config";
import { presignThumbUrl, presignUrl } from "../src/lib/presign";

const config = loadConfig(env);
const key = `uploads/${crypto.randomUUID()}/thumb-256.webp`;
const window = (config.thumbUrlTtlSeconds / 4) * 1000;
const start = Math.floor(Date.now() / window) * window;

describe("presignThumbUrl", () => {
  it("gives the URL a fresh signature would, for the window's aligned signing time", async () => {
    const url = await presignThumbUrl(config, key, start + 1234);
    const fresh = await presignUrl(config.r2, {
      method: "GET",
      key,
      expiresInSeconds: config.thumbUrlTtlSeconds,
      signedAt: start / 1000,
    });
    expect(url).toBe(fresh);
    expect(await presignThumbUrl(config, key, start + window - 1)).toBe(url);
  });

  it("signs again in the next window, and for other credentials or keys", async () => {
    const url = await presignThumbUrl(config, key, start);
    expect(await presignThumbUrl(config, key, start + window)).not.toBe(url);
    const rotated = { ...config, r2: { ...config.r2, secretAccessKey: "another-secret" } };
    const other = await presignThumbUrl(rotated, key, start);
    expect(new URL(other).searchParams.get("X-Amz-Signature")).not.toBe(
      new URL(url).searchParams.get("X-Amz-Signature"),
    );
    expect(await presignThumbUrl(config, key.replace("thumb", "other"), start)).not.toBe(url);
  });
});
