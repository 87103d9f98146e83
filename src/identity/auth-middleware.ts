import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { ApiError, type ErrorCode } from "../lib/errors/api-error";
import { clientIp, enforceLimit } from "../lib/rate-limit";
import type { AppBindings } from "../lib/types";
import { bearerToken, unauthenticated, verifyAccessToken } from "./access-token";
import { resolveCaller } from "./caller";

/** What `authenticate` answers with: a refused token (counted per IP, so 429 too), no JWKS (503). */
export const authenticateErrors = [
  "unauthenticated",
  "rate_limited",
  "unavailable",
] as const satisfies readonly ErrorCode[];

/**
 * What resolving the caller adds (`requireCaller`, or a route that resolves them itself): an
 * account not active; a deleted one or one WorkOS does not know (401); WorkOS or D1 down (503).
 */
export const callerErrors = [...authenticateErrors, "user_inactive"] as const satisfies readonly ErrorCode[];

/** Verify the bearer token and put its claims on the context; failures count per client IP. */
async function authenticateRequest(c: Context<AppBindings>): Promise<void> {
  try {
    const token = bearerToken(c.req.header("authorization"));
    if (!token) throw unauthenticated();
    c.set("claims", await verifyAccessToken(token, c.var.config));
  } catch (error) {
    // Failed authentications count per client IP: guessing tokens gets a 429 soon.
    if (error instanceof ApiError && error.status === 401) {
      await enforceLimit(c.env.IP_LIMITER, `auth-failure:${clientIp(c)}`);
    }
    throw error;
  }
}

/**
 * Only the token, no database: for routes that fold the caller check into their own statement
 * (the PATCH, the members list) and resolve the caller only when that statement needs explaining.
 */
export const authenticate = createMiddleware<AppBindings>(async (c, next) => {
  await authenticateRequest(c);
  await next();
});

/** Authenticate the request and put the caller and their access on the context. */
export const requireCaller = createMiddleware<AppBindings>(async (c, next) => {
  await authenticateRequest(c);
  const { db, config, claims, requestId, jobs } = c.var;
  const { user, access } = await resolveCaller({ db, config, claims, requestId, jobs });
  c.set("caller", user);
  c.set("access", access);
  await next();
});
