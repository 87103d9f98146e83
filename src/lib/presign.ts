import { AwsClient } from "aws4fetch";
import type { Config } from "./config";

type R2Config = Config["r2"];

// Module scope on purpose: each client caches its derived SigV4 signing keys across requests.
const clients = new Map<string, AwsClient>();

function clientFor(r2: R2Config): AwsClient {
  const cacheKey = `${r2.accessKeyId}\n${r2.secretAccessKey}`;
  let client = clients.get(cacheKey);
  if (!client) {
    client = new AwsClient({
      accessKeyId: r2.accessKeyId,
      secretAccessKey: r2.secretAccessKey,
      service: "s3",
      region: "auto",
    });
    clients.set(cacheKey, client);
  }
  return client;
}

/** `20231107T053156Z`, the SigV4 timestamp format. */
export function amzDate(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/[:-]|\.\d{3}/g, "");
}

/** Path-style object URL, `{endpoint}/{bucket}/{key}`; keys are ASCII built from UUIDs. */
export function objectUrl(r2: R2Config, key: string): URL {
  return new URL(`${r2.endpoint}/${r2.bucket}/${key}`);
}

export interface PresignOptions {
  method: "GET" | "HEAD" | "PUT";
  key: string;
  expiresInSeconds: number;
  /** Signing time in epoch seconds; defaults to now. */
  signedAt?: number;
  /**
   * Headers the request must carry with exactly these values, signed besides `host`: a request
   * without one, or with another value, fails the signature.
   */
  headers?: Record<string, string>;
}

/**
 * A SigV4 query-signed URL (service `s3`, region `auto`), as R2 accepts: `host` and the given
 * headers signed, every one of them (aws4fetch leaves Content-Type and Content-Length out
 * unless told `allHeaders`).
 * @see https://developers.cloudflare.com/r2/api/s3/presigned-urls/
 */
export async function presignUrl(r2: R2Config, options: PresignOptions): Promise<string> {
  const url = objectUrl(r2, options.key);
  url.searchParams.set("X-Amz-Expires", String(options.expiresInSeconds));
  const signed = await clientFor(r2).sign(url.toString(), {
    method: options.method,
    headers: options.headers ?? {},
    aws: {
      signQuery: true,
      allHeaders: true,
      datetime: amzDate(options.signedAt ?? Math.floor(Date.now() / 1000)),
    },
  });
  return signed.url;
}

/** Thumbnail URLs signed in this isolate, by signing window: a URL is a pure function of its inputs. */
const thumbUrls = new Map<string, string>();
const MAX_CACHED_THUMB_URLS = 1000;

/**
 * Presigned GET URL of a thumbnail. The signing time is aligned to windows of a quarter of the
 * TTL, so one photo yields one URL for that long (browsers and CDNs can cache it), and each URL
 * handed out stays valid for at least three quarters of the TTL. Within a window the URL is the
 * same, so it is signed once per isolate and then reused.
 */
export async function presignThumbUrl(
  config: Config,
  thumbKey: string,
  nowMs: number = Date.now(),
): Promise<string> {
  const { r2, thumbUrlTtlSeconds: ttl } = config;
  const window = Math.max(1, Math.floor(ttl / 4));
  const signedAt = Math.floor(nowMs / 1000 / window) * window;
  const cacheKey = [r2.endpoint, r2.bucket, r2.accessKeyId, r2.secretAccessKey, thumbKey, ttl, signedAt].join(
    "\n",
  );
  const cached = thumbUrls.get(cacheKey);
  if (cached) return cached;
  const url = await presignUrl(r2, { method: "GET", key: thumbKey, expiresInSeconds: ttl, signedAt });
  // Entries from past windows are never asked for again: dropping the oldest keeps this bounded.
  if (thumbUrls.size >= MAX_CACHED_THUMB_URLS) thumbUrls.delete(thumbUrls.keys().next().value as string);
  thumbUrls.set(cacheKey, url);
  return url;
}
