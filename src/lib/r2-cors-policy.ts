/**
 * The CORS policy of the R2 bucket. Browsers PUT the upload's bytes to its presigned URL and may
 * GET thumbnails from script. The PUT sends the headers the URL signs (see `uploadHeaders` of
 * POST /uploads): Content-Type and If-None-Match are asked for in the preflight; Content-Length is
 * set by the browser itself and never is. ETag is what a client reads back to know which bytes R2
 * stored.
 *
 * One rule, two readers: `npm run r2:cors` sets it on the real bucket (scripts/r2-cors.mjs, which
 * imports this file into Node, so it stays TypeScript that Node runs by stripping the types), and
 * `wrangler dev`'s bucket emulation answers it (src/routes/s3-emulation/bucket-cors.ts).
 */

/** Preflights are cached per URL and every upload has its own URL, so an hour is plenty. */
const R2_CORS_MAX_AGE_SECONDS = 3600;

/** Everything but the origins, which come from `CORS_ORIGINS`. */
export const bucketCorsRule = {
  methods: ["GET", "PUT"],
  headers: ["Content-Type", "If-None-Match"],
  exposeHeaders: ["ETag"],
  maxAgeSeconds: R2_CORS_MAX_AGE_SECONDS,
} as const;

/**
 * The policy in the shape `wrangler r2 bucket cors set --file` takes (R2's own:
 * `rules[].allowed.{origins,methods,headers}`, not S3's `CORSRules`).
 * @see https://developers.cloudflare.com/api/resources/r2/subresources/buckets/subresources/cors/
 * @param origins the origins allowed, exactly as browsers send them
 */
export function r2CorsPolicy(origins: string[]) {
  if (origins.length === 0) throw new Error("no origins to allow: CORS_ORIGINS is empty");
  const { methods, headers, exposeHeaders, maxAgeSeconds } = bucketCorsRule;
  return {
    rules: [
      {
        allowed: { origins, methods: [...methods], headers: [...headers] },
        exposeHeaders: [...exposeHeaders],
        maxAgeSeconds,
      },
    ],
  };
}
