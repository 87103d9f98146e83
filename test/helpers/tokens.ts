import { env } from "cloudflare:workers";
import { generateKeyPair, importJWK, type JWK, type JWTPayload, SignJWT } from "jose";
import type { User } from "../../src/db/schema";
import { membershipOf } from "./db";

const privateJwk = JSON.parse(env.TEST_SIGNING_JWK) as JWK;
const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = privateJwk;

/** The key the service trusts (served as the mocked WorkOS JWKS). */
export const trustedKey = await importJWK(privateJwk, "RS256");
export const trustedKid = privateJwk.kid as string;
export const publicJwks = { keys: [publicJwk] };
export const ISSUER = "https://api.workos.com/user_management/client_test";

/** A key pair the service has never seen. */
export const attackerKeys = await generateKeyPair("RS256", { extractable: true });

export interface TokenOptions {
  key?: CryptoKey | Uint8Array;
  header?: Record<string, unknown>;
  /** Seconds from now; `null` leaves `exp` out. */
  expiresIn?: number | null;
  issuer?: string;
}

/** A WorkOS-shaped access token for `sub`, signed with the trusted key unless told otherwise. */
export async function signToken(claims: JWTPayload & { sub: string }, options: TokenOptions = {}) {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ sid: "session_test", ...claims })
    .setProtectedHeader({ alg: "RS256", kid: trustedKid, ...options.header } as { alg: string })
    .setIssuedAt(now)
    .setIssuer(options.issuer ?? ISSUER);
  if (options.expiresIn !== null) jwt.setExpirationTime(now + (options.expiresIn ?? 300));
  return jwt.sign(options.key ?? trustedKey);
}

/** base64url of a JSON value, a string, or raw bytes, for hand-built tokens. */
export function b64url(value: unknown): string {
  const bytes =
    value instanceof Uint8Array
      ? value
      : new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/**
 * A compact RS256 JWS built by hand with the trusted key, for headers and claims `SignJWT`
 * refuses to produce (no `iss`, a `sub` that is not a string, an unknown `crit`...).
 */
export async function signRaw(header: Record<string, unknown>, payload: JWTPayload): Promise<string> {
  const input = `${b64url(header)}.${b64url(payload)}`;
  const signature = await crypto.subtle.sign(
    "RSASSA-PKCS1-v1_5",
    trustedKey as CryptoKey,
    new TextEncoder().encode(input),
  );
  return `${input}.${b64url(new Uint8Array(signature))}`;
}

/**
 * A token for `user` as WorkOS would mint it for a session in the organization they were created
 * in (`createUser`): `org_id` and `role` from there, unless `claims` says otherwise (`undefined`
 * leaves a claim out).
 */
export function tokenFor(user: User, claims: JWTPayload = {}, options: TokenOptions = {}) {
  const { organizationId, role } = membershipOf(user);
  return signToken({ sub: user.workosUserId, org_id: organizationId ?? undefined, role, ...claims }, options);
}
