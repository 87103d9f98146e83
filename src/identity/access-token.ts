import { errors, jwtVerify } from "jose";
import type { Config } from "../lib/config";
import { ApiError, retryAfter } from "../lib/errors/api-error";
import { inlineKeySet, JwksUnavailableError, remoteKeySet } from "./key-set";

/** Claims of a verified WorkOS access token that the service uses. */
export interface AccessTokenClaims {
  sub: string;
  /** Issued at, in seconds: orders the token against membership changes. */
  iat?: number;
  org_id?: string;
  role?: string;
  permissions?: string[];
  sid?: string;
}

/**
 * A refused bearer token: 401 with the RFC 6750 challenge, and one body whatever the reason, so a
 * refusal never says which check failed.
 */
export const unauthenticated = () =>
  new ApiError("unauthenticated", "Not authenticated.", {
    "WWW-Authenticate": 'Bearer error="invalid_token"',
  });

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
 * `jku`, `x5u` and `jwk` headers are never consulted. No database: the token alone.
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
      throw new ApiError(
        "unavailable",
        "The identity provider's keys cannot be fetched right now.",
        retryAfter(5),
      );
    }
    if (error instanceof errors.JOSEError || error instanceof TypeError) throw unauthenticated();
    throw error;
  }
}
