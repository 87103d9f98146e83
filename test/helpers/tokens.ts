import { env } from "cloudflare:workers";
import { generateKeyPair, importJWK, type JWK, type JWTPayload, SignJWT } from "jose";

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

/** base64url of a JSON value or string, for hand-built tokens. */
export function b64url(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}
