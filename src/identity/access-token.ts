import { and, eq, getTableColumns } from "drizzle-orm";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { errors, jwtVerify } from "jose";
import type { Database } from "../db/client";
import { memberships, type User, users } from "../db/schema";
import type { Config } from "../lib/config";
import { ApiError, unauthenticated, unavailable } from "../lib/errors";
import { clientIp, enforceLimit } from "../lib/rate-limit";
import type { AccessTokenClaims, AppBindings } from "../lib/types";
import { inlineKeySet, JwksUnavailableError, remoteKeySet } from "./key-set";
import { type CallerAccess, type StoredMembership, settleAccess } from "./memberships";
import { provisionUser } from "./provisioning";
import { WorkOSUnavailableError } from "./workos-api";

/** Authorization header values longer than this are refused before any parsing. */
export const MAX_AUTHORIZATION_LENGTH = 8192;
const CLOCK_TOLERANCE_SECONDS = 30;
/** The auth scheme is case-insensitive (RFC 9110 §11.1); the token is a compact JWS. */
const BEARER_JWT = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/i;

/** The compact JWT from an `Authorization: Bearer` header, or `undefined` if there is none. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header || header.length > MAX_AUTHORIZATION_LENGTH) return undefined;
  return BEARER_JWT.exec(header)?.[1];
}

/**
 * Verify a WorkOS access token: RS256 only, `exp` and `sub` required, issuer from the configured
 * list, no audience (WorkOS session tokens carry none). Keys come only from the configured JWKS;
 * `jku`, `x5u` and `jwk` headers are never consulted.
 */
export async function verifyAccessToken(token: string, config: Config): Promise<AccessTokenClaims> {
  const getKey = config.workos.inlineJwks
    ? inlineKeySet(config.workos.inlineJwks)
    : remoteKeySet(config.workos.jwksUrl).getKey;
  try {
    const { payload } = await jwtVerify(token, getKey, {
      algorithms: ["RS256"],
      issuer: config.workos.issuers,
      requiredClaims: ["exp", "sub"],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
    });
    if (typeof payload.sub !== "string" || payload.sub.length === 0 || payload.sub.length > 255) {
      throw unauthenticated();
    }
    return {
      sub: payload.sub,
      iat: typeof payload.iat === "number" ? payload.iat : undefined,
      org_id: typeof payload.org_id === "string" ? payload.org_id : undefined,
      role: typeof payload.role === "string" ? payload.role : undefined,
      permissions: Array.isArray(payload.permissions)
        ? payload.permissions.filter((p): p is string => typeof p === "string")
        : undefined,
      sid: typeof payload.sid === "string" ? payload.sid : undefined,
    };
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if (error instanceof JwksUnavailableError) {
      console.error(
        JSON.stringify({ level: "error", msg: "no JWKS keys available", cause: String(error.cause) }),
      );
      throw unavailable("The identity provider's keys cannot be fetched right now.");
    }
    if (error instanceof errors.JOSEError || error instanceof TypeError) throw unauthenticated();
    throw error;
  }
}

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
 * The caller's user row for the verified token, and what the token lets them do, put on the
 * context: 403 `user_inactive` for an account that is not active, 401 for a deleted one.
 *
 * A known user whose membership of the token's organization is recorded as the token says costs
 * one D1 read (the user row with that membership) and nothing else. Otherwise the membership is
 * recorded (one conditional write, see `settleAccess`). A user D1 has not seen yet is provisioned
 * from the WorkOS API (401 when WorkOS does not know them, 503 when WorkOS cannot answer, nothing
 * written either way).
 */
export async function resolveCaller(c: Context<AppBindings>): Promise<{ user: User; access: CallerAccess }> {
  const { config, db, claims } = c.var;
  const known = await findCallerWithMembership(db, claims);
  const user = known?.user ?? (await provisionOrRefuse(db, config, claims, c.var.requestId));
  assertActive(user);
  const access = await settleAccess(db, claims, known ? known.membership : undefined);
  c.set("caller", user);
  c.set("access", access);
  return { user, access };
}

/** The token's user with their membership of the token's organization, in one read. */
async function findCallerWithMembership(
  db: Database,
  claims: AccessTokenClaims,
): Promise<{ user: User; membership: StoredMembership | null } | undefined> {
  const bySub = eq(users.workosUserId, claims.sub);
  if (claims.org_id === undefined) {
    const user = await db.query.users.findFirst({ where: bySub });
    return user && { user, membership: null };
  }
  const [row] = await db
    .select({
      user: getTableColumns(users),
      membership: { state: memberships.state, role: memberships.role, changedAt: memberships.changedAt },
    })
    .from(users)
    .leftJoin(
      memberships,
      and(eq(memberships.workosUserId, users.workosUserId), eq(memberships.organizationId, claims.org_id)),
    )
    .where(bySub)
    .limit(1);
  return row;
}

/**
 * Only the token, no database: for routes that fold the caller check into their own statement
 * (the PATCH) and call `resolveCaller` only when that statement needs explaining.
 */
export const authenticate = createMiddleware<AppBindings>(async (c, next) => {
  await authenticateRequest(c);
  await next();
});

/** Authenticate the request and put the caller on the context (`authenticate` + `resolveCaller`). */
export const requireCaller = createMiddleware<AppBindings>(async (c, next) => {
  await authenticateRequest(c);
  await resolveCaller(c);
  await next();
});

async function provisionOrRefuse(
  db: Database,
  config: Config,
  claims: AccessTokenClaims,
  requestId: string,
): Promise<User> {
  try {
    const user = await provisionUser(db, config, claims);
    if (!user) throw unauthenticated();
    return user;
  } catch (error) {
    if (!(error instanceof WorkOSUnavailableError)) throw error;
    // The message names what went wrong (status, timeout), never the key or the response body.
    console.error(
      JSON.stringify({ level: "error", msg: "user provisioning failed", requestId, cause: error.message }),
    );
    throw unavailable("The identity provider cannot be reached right now.");
  }
}

export function assertActive(user: Pick<User, "state">): void {
  if (user.state === "deleted") throw unauthenticated();
  if (user.state !== "active") {
    throw new ApiError(403, "user_inactive", "This account is not active.");
  }
}
