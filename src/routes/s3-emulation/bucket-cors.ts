import { createMiddleware } from "hono/factory";
import type { AppBindings } from "../../lib/types";
import { S3Error, s3ErrorResponse } from "./s3-error";

/**
 * The bucket's CORS rule. Production sets the same rule on the R2 bucket (README, Deploy), with
 * `CORS_ORIGINS` as its origins; here the emulation answers it as R2 does, so a page on another
 * origin can PUT through a presigned upload URL and read the result under `wrangler dev`.
 * @see https://developers.cloudflare.com/r2/buckets/cors/
 */
export const bucketCorsRule = {
  methods: ["GET", "HEAD", "PUT"],
  /** What upload URLs sign besides `host`. A browser sets Content-Length itself and never asks for it. */
  headers: ["content-type", "content-length", "if-none-match"],
  /** The PUT's `ETag` is how a client confirms what was stored. */
  exposeHeaders: ["ETag"],
  maxAgeSeconds: 600,
} as const;

const allowedMethods: readonly string[] = bucketCorsRule.methods;
const allowedHeaders: readonly string[] = bucketCorsRule.headers;

const notAllowed = () =>
  new S3Error(
    403,
    "AccessForbidden",
    "CORSResponse: This CORS request is not allowed. The origin, method or headers are not allowed by the bucket's CORS rule.",
  );

/**
 * CORS for `/__s3/...`, as an R2 bucket with `bucketCorsRule` answers it: a preflight that the rule
 * allows gets `200` with the allowed origin, methods, the requested headers and a max age; any
 * other preflight `403` without CORS headers. Answers to actual requests from an allowed origin,
 * errors included (so the page sees the status), carry the origin and expose `ETag`.
 */
export const bucketCors = createMiddleware<AppBindings>(async (c, next) => {
  if (!c.var.config.localS3Emulation) return next();
  const request = c.req.raw;
  const origin = request.headers.get("origin");
  const allowedOrigin = origin !== null && c.var.config.corsOrigins.includes(origin) ? origin : undefined;

  if (request.method === "OPTIONS") {
    const method = request.headers.get("access-control-request-method") ?? "";
    const requested = (request.headers.get("access-control-request-headers") ?? "")
      .split(",")
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean);
    if (
      !allowedOrigin ||
      !allowedMethods.includes(method) ||
      requested.some((h) => !allowedHeaders.includes(h))
    ) {
      return s3ErrorResponse(
        notAllowed(),
        new URL(request.url).pathname.slice("/__s3".length),
        c.var.requestId,
      );
    }
    const headers = new Headers({
      "Access-Control-Allow-Origin": allowedOrigin,
      "Access-Control-Allow-Methods": allowedMethods.join(", "),
      "Access-Control-Max-Age": String(bucketCorsRule.maxAgeSeconds),
      Vary: "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
    });
    if (requested.length) headers.set("Access-Control-Allow-Headers", requested.join(", "));
    return new Response(null, { status: 200, headers });
  }

  await next();
  c.res.headers.append("Vary", "Origin");
  if (allowedOrigin && allowedMethods.includes(request.method)) {
    c.res.headers.set("Access-Control-Allow-Origin", allowedOrigin);
    c.res.headers.set("Access-Control-Expose-Headers", bucketCorsRule.exposeHeaders.join(", "));
  }
});
