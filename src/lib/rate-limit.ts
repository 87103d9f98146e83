import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { ApiError, type ErrorCode, retryAfter } from "./errors/api-error";
import type { AppBindings } from "./types";

/** The limiters' period in wrangler.toml (`simple.period`), which is what a refused client waits. */
const PERIOD_SECONDS = 60;

const rateLimited = () =>
  new ApiError("rate_limited", "Too many requests; try again later.", retryAfter(PERIOD_SECONDS));

/** What `limitWrites` answers with. */
export const writeLimitErrors = ["rate_limited"] as const satisfies readonly ErrorCode[];

/** The client's address as Cloudflare saw it; `unknown` only outside Cloudflare (tests, tools). */
export const clientIp = (c: Context<AppBindings>) => c.req.header("cf-connecting-ip") || "unknown";

/**
 * Count one event against `limiter` for `key`; throw 429 when over. The Rate Limiting binding is
 * local to a Cloudflare location and eventually consistent: a guard against abuse, not a quota.
 * @see https://developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/
 */
export async function enforceLimit(limiter: RateLimit, key: string): Promise<void> {
  const { success } = await limiter.limit({ key });
  if (!success) throw rateLimited();
}

/**
 * Writes (the PATCH, upload creation and completion) are limited per caller, keyed by the token's
 * `sub`. Goes after `authenticate` or `requireCaller`.
 */
export const limitWrites = createMiddleware<AppBindings>(async (c, next) => {
  await enforceLimit(c.env.WRITE_LIMITER, `user:${c.var.claims.sub}`);
  await next();
});
