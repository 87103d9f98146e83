import { createMiddleware } from "hono/factory";
import { bucketCorsRule } from "../../lib/r2-cors-policy";
import type { AppBindings } from "../../lib/types";
import { S3Error, s3ErrorResponse } from "./s3-error";

const allowedMethods: readonly string[] = bucketCorsRule.methods;
// Browsers list the headers they ask for in lower case; R2 compares them case-insensitively.
const allowedHeaders = bucketCorsRule.headers.map((name) => name.toLowerCase());

const notAllowed = () =>
  new S3Error(
    403,
    "AccessForbidden",
    "CORSResponse: This CORS request is not allowed. The origin, method or headers are not allowed by the bucket's CORS policy.",
  );

/**
 * CORS for `/__s3/...`, answered as the R2 bucket answers it once `npm run r2:cors` has set its
 * policy (`bucketCorsRule`, with `CORS_ORIGINS` as its origins), so a page on another origin can PUT
 * through a presigned upload URL under `wrangler dev` exactly as it will in production: a preflight
 * the policy allows gets `200` with the origin, methods, the requested headers and a max age; any
 * other preflight `403` without CORS headers. Answers to actual requests from an allowed origin,
 * refusals included (so the page sees the status), carry the origin and expose `ETag`.
 * @see https://developers.cloudflare.com/r2/buckets/cors/
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
      requested.some((name) => !allowedHeaders.includes(name))
    ) {
      const resource = new URL(request.url).pathname.slice("/__s3".length);
      return s3ErrorResponse(notAllowed(), resource, c.var.requestId);
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
