// Local development identity: a git-ignored RSA key pair standing in for WorkOS, whose public half
// reaches the worker as WORKOS_JWKS through .dev.vars. Never used outside `wrangler dev`.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { importJWK, SignJWT } from "jose";

export const DEV_DIR = ".dev";
export const DEV_CLIENT_ID = "client_local_dev";
export const DEV_ISSUER = `https://api.workos.com/user_management/${DEV_CLIENT_ID}`;

export const DEMO_USER = {
  id: "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
  sub: "user_01DEMO000000000000000000",
  email: "demo@example.com",
  firstName: "Demo",
  lastName: "User",
  org: "org_01DEMO000000000000000000",
  role: "member",
};

/**
 * Teammates of the demo user that `npm run dev` signs in once (so they are provisioned from the
 * WorkOS stand-in): one whose WorkOS picture is imported, one with none, whose avatar is initials.
 */
export const DEMO_TEAMMATES = [
  { sub: "user_01DEMOADA00000000000000000", firstName: "Ada", lastName: "Lovelace", picture: true },
  { sub: "user_01DEMOGRACE000000000000000", firstName: "Grace", lastName: "Hopper", picture: false },
];

export const signingKeyFile = (dir = DEV_DIR) => `${dir}/signing-key.json`;

/** The dev signing key kept in `dir` (made on first use); the benchmark passes a throwaway dir. */
export function devSigningKey(dir = DEV_DIR) {
  const keyFile = signingKeyFile(dir);
  if (!existsSync(keyFile)) {
    mkdirSync(dir, { recursive: true });
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const jwk = {
      ...privateKey.export({ format: "jwk" }),
      kid: `dev_${randomBytes(6).toString("hex")}`,
      alg: "RS256",
      use: "sig",
    };
    writeFileSync(keyFile, `${JSON.stringify(jwk, null, 2)}\n`, { mode: 0o600 });
  }
  return JSON.parse(readFileSync(keyFile, "utf8"));
}

export function devPublicJwks(dir = DEV_DIR) {
  const { kty, n, e, kid, alg, use } = devSigningKey(dir);
  return { keys: [{ kty, n, e, kid, alg, use }] };
}

/** A token shaped like a WorkOS access token, signed with the dev key. */
export async function devToken({
  sub = DEMO_USER.sub,
  org = DEMO_USER.org,
  role = DEMO_USER.role,
  ttl = 3600,
  dir = DEV_DIR,
} = {}) {
  const jwk = devSigningKey(dir);
  const key = await importJWK(jwk, "RS256");
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    org_id: org,
    role,
    permissions: [],
    sid: `session_dev_${randomBytes(4).toString("hex")}`,
  })
    .setProtectedHeader({ alg: "RS256", kid: jwk.kid, typ: "JWT" })
    .setSubject(sub)
    .setIssuer(DEV_ISSUER)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .sign(key);
}

/** The dev-only WorkOS API key: the worker sends it to the loopback WorkOS stand-in of `npm run dev`. */
export const DEV_WORKOS_API_KEY = "sk_dev_local_only";

/**
 * Write the dev vars file (`.dev.vars` unless told otherwise) with the dev JWKS of the key in
 * `keysDir` and dev-only secrets, keeping any other lines a developer added. The secrets here
 * protect nothing but a local emulator.
 */
export function writeDevVars(overrides = {}, { file = ".dev.vars", keysDir = DEV_DIR } = {}) {
  const wanted = {
    WORKOS_JWKS: JSON.stringify(devPublicJwks(keysDir)),
    WORKOS_API_KEY: DEV_WORKOS_API_KEY,
    WORKOS_WEBHOOK_SECRET: "whsec_dev_local_only",
    R2_ACCESS_KEY_ID: "dev-access-key-id",
    R2_SECRET_ACCESS_KEY: "dev-secret-access-key-local-only",
    ...overrides,
  };
  const existing = existsSync(file) ? readFileSync(file, "utf8").split("\n") : [];
  const kept = existing.filter(
    (line) => line.trim() && !Object.keys(wanted).some((k) => line.startsWith(`${k}=`)),
  );
  const lines = [...kept, ...Object.entries(wanted).map(([k, v]) => `${k}='${v}'`)];
  writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
  return wanted;
}
