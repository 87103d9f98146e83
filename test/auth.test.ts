import { exportJWK, exportSPKI, generateKeyPair, importJWK, type JWK, type JWTPayload } from "jose";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { User } from "../src/db/schema";
import { MAX_AUTHORIZATION_LENGTH } from "../src/identity/access-token";
import {
  JWKS_COOLDOWN_MS,
  JWKS_MAX_AGE_MS,
  JWKS_OUTAGE_BACKOFF_MS,
  JWKS_TIMEOUT_MS,
} from "../src/identity/key-set";
import { type CallOptions, call } from "./helpers/api";
import { readUser } from "./helpers/db";
import {
  attemptPatch,
  expectError,
  expectUnauthenticated,
  expectUnchanged,
  type Victim,
  victim,
} from "./helpers/refusals";
import { attackerKeys, b64url, ISSUER, publicJwks, signRaw, signToken, trustedKid } from "./helpers/tokens";
import { freshJwksUrl, mockWorkOS, WORKOS_API_URL } from "./helpers/workos";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

function claimsFor(user: User): JWTPayload & { sub: string } {
  const now = Math.floor(Date.now() / 1000);
  return { sub: user.workosUserId, iss: ISSUER, iat: now, exp: now + 300, org_id: "org_acme" };
}

/**
 * `authorization` on the victim's PATCH: 401 with the bearer challenge, before any D1 round trip,
 * and the victim's user and upload read back unchanged.
 */
async function expectRefusedBeforeD1(
  target: Victim,
  authorization: string | undefined,
  envOverrides: CallOptions["env"] = {},
) {
  const { response, d1 } = await attemptPatch(target, authorization, envOverrides);
  await expectUnauthenticated(response);
  expect(d1.roundTrips).toBe(0);
  await expectUnchanged(target.user, target.upload);
}

describe("bearer authentication: malformed headers", () => {
  it.for<{ name: string; authorization: (token: string) => string | undefined }>([
    { name: "case 1: no Authorization header", authorization: () => undefined },
    { name: "case 2: a Basic credential", authorization: () => `Basic ${btoa("user:password")}` },
    { name: "case 2: Bearer with nothing after it", authorization: () => "Bearer" },
    { name: "case 2: Bearer and a space only", authorization: () => "Bearer " },
    { name: "case 2: two tokens", authorization: (token) => `Bearer ${token} ${token}` },
    { name: "case 2: two Bearer credentials", authorization: (token) => `Bearer ${token}, Bearer ${token}` },
    { name: "case 2: a string that is not a JWT", authorization: () => "Bearer not-a-jwt" },
    {
      name: "case 3: a two-segment token",
      authorization: (token) => `Bearer ${token.split(".").slice(0, 2).join(".")}`,
    },
    { name: "case 3: broken base64url", authorization: (token) => `Bearer ${token.replace(".", ".@@")}` },
    {
      name: "case 3: a header that is not JSON",
      authorization: (token) => `Bearer ${b64url("{not json")}.${token.split(".")[1]}.AAAA`,
    },
    {
      name: "case 3: a header that is JSON but not an object",
      authorization: (token) => `Bearer ${b64url("[]")}.${token.split(".")[1]}.AAAA`,
    },
    {
      name: "case 3: a payload that is not JSON",
      authorization: (token) => `Bearer ${token.split(".")[0]}.${b64url("nope")}.AAAA`,
    },
  ])("$name: 401, before touching the database", async ({ authorization }) => {
    mockWorkOS();
    const target = await victim();
    const token = await signToken({ sub: target.user.workosUserId });
    await expectRefusedBeforeD1(target, authorization(token));
  });
});

describe("bearer authentication: the scheme name", () => {
  it("accepts the scheme in any case, as RFC 9110 says", async () => {
    mockWorkOS();
    const target = await victim();
    const token = await signToken({ sub: target.user.workosUserId });
    const { response } = await attemptPatch(target, `bearer ${token}`);
    expect(response.status).toBe(200);
    expect((await readUser(target.user.id))?.profilePictureUploadId).toBe(target.upload.id);
  });
});

describe("bearer authentication: forged and unacceptable tokens", () => {
  it.for<{ name: string; header: Record<string, unknown>; signature: string }>([
    { name: "alone", header: { alg: "none", typ: "JWT" }, signature: "" },
    {
      name: "with the real kid and a signature segment",
      header: { alg: "none", kid: trustedKid },
      signature: "AAAA",
    },
  ])("case 4: returns 401 for alg none $name", async ({ header, signature }) => {
    mockWorkOS();
    const target = await victim();
    const token = `${b64url(header)}.${b64url(claimsFor(target.user))}.${signature}`;
    await expectRefusedBeforeD1(target, `Bearer ${token}`);
  });

  it.for<{ name: string; secret: () => Promise<string> }>([
    {
      name: "its PEM",
      secret: async () => exportSPKI((await importJWK(publicJwks.keys[0] as JWK, "RS256")) as CryptoKey),
    },
    { name: "its JWK", secret: async () => JSON.stringify(publicJwks.keys[0]) },
  ])(
    "case 5: returns 401 for HS256 signed with the RSA public key ($name) as the secret",
    async ({ secret }) => {
      mockWorkOS();
      const target = await victim();
      const token = await signToken(
        { sub: target.user.workosUserId },
        { key: new TextEncoder().encode(await secret()), header: { alg: "HS256" } },
      );
      await expectRefusedBeforeD1(target, `Bearer ${token}`);
    },
  );

  it.for(
    (["RS384", "PS256", "ES256"] as const).flatMap((alg) => [
      { alg, kid: trustedKid, whose: "the real kid" },
      { alg, kid: "attacker-key", whose: "its own kid" },
    ]),
  )("case 6: returns 401 for $alg by an attacker key with $whose", async ({ alg, kid }) => {
    mockWorkOS();
    const target = await victim();
    const { privateKey } = await generateKeyPair(alg);
    const token = await signToken(
      { sub: target.user.workosUserId },
      { key: privateKey, header: { alg, kid } },
    );
    await expectRefusedBeforeD1(target, `Bearer ${token}`);
  });

  it("case 7: returns 401 for RS256 by an attacker key reusing the real kid", async () => {
    mockWorkOS();
    const target = await victim();
    const token = await signToken({ sub: target.user.workosUserId }, { key: attackerKeys.privateKey });
    await expectRefusedBeforeD1(target, `Bearer ${token}`);
  });

  it("returns 401 for a token signed by the real key with an unknown kid", async () => {
    const url = freshJwksUrl();
    const workos = mockWorkOS({ [url]: () => Response.json(publicJwks) });
    const target = await victim();
    const token = await signToken({ sub: target.user.workosUserId }, { header: { kid: "rotated-away" } });
    await expectRefusedBeforeD1(target, `Bearer ${token}`, { WORKOS_JWKS_URL: url });
    expect(workos.count(url)).toBe(1);
  });

  it("case 8: a burst of random kids is all 401, and the JWKS is refetched at most once per cooldown", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const url = freshJwksUrl();
    const workos = mockWorkOS({ [url]: () => Response.json(publicJwks) });
    const target = await victim();
    const burst = async (key: CryptoKey | undefined) => {
      const attempts = await Promise.all(
        Array.from({ length: 25 }, async () => {
          const token = await signToken(
            { sub: target.user.workosUserId },
            { key, header: { kid: crypto.randomUUID() } },
          );
          return attemptPatch(target, `Bearer ${token}`, { WORKOS_JWKS_URL: url });
        }),
      );
      for (const { response, d1 } of attempts) {
        await expectUnauthenticated(response);
        expect(d1.roundTrips).toBe(0);
      }
    };
    // Cold: the first burst fetches once, for all of it, and the keys it got verify a real token.
    await burst(undefined);
    expect(workos.count(url)).toBe(1);
    const known = await call("/api/v1/users/me", {
      token: await signToken({ sub: target.user.workosUserId }),
      env: { WORKOS_JWKS_URL: url },
    });
    expect(known.status).toBe(200);
    expect(workos.count(url)).toBe(1);
    // Within the cooldown of that fetch: no refetch at all.
    await burst(attackerKeys.privateKey);
    expect(workos.count(url)).toBe(1);
    // After it: one refetch for the whole burst.
    vi.setSystemTime(Date.now() + JWKS_COOLDOWN_MS + 1000);
    await burst(attackerKeys.privateKey);
    expect(workos.count(url)).toBe(2);
    await burst(undefined);
    expect(workos.count(url)).toBe(2);
    await expectUnchanged(target.user, target.upload);
  });

  it.for([
    { name: "a path", kid: "../../../etc/passwd" },
    { name: "a URL", kid: "https://evil.test/key" },
    { name: "SQL", kid: "x' OR '1'='1'; DROP TABLE users; --" },
    { name: "1 KB long", kid: "k".repeat(1024) },
    { name: "10 KB long", kid: "k".repeat(10 * 1024) },
  ])("case 9: returns 401 for a kid that is $name, without fetching the JWKS", async ({ kid }) => {
    const url = freshJwksUrl();
    const workos = mockWorkOS({ [url]: () => Response.json(publicJwks) });
    const target = await victim();
    const token = await signToken({ sub: target.user.workosUserId }, { header: { kid } });
    await expectRefusedBeforeD1(target, `Bearer ${token}`, { WORKOS_JWKS_URL: url });
    expect(workos.requests).toHaveLength(0);
  });

  it.for<{ name: string; header: (attackerJwk: JWK) => Record<string, unknown> }>([
    { name: "jku with a kid", header: () => ({ jku: "https://evil.test/jwks.json", kid: "evil" }) },
    { name: "jku alone", header: () => ({ jku: "https://evil.test/jwks.json" }) },
    { name: "x5u", header: () => ({ x5u: "https://evil.test/cert.pem", kid: "evil" }) },
    { name: "jwk with a kid", header: (jwk) => ({ jwk, kid: "evil" }) },
    { name: "jwk alone", header: (jwk) => ({ jwk }) },
  ])("case 10: returns 401 for a $name header and never requests what it points at", async ({ header }) => {
    const url = freshJwksUrl();
    const attackerJwk = { ...(await exportJWK(attackerKeys.publicKey)), kid: "evil" };
    const workos = mockWorkOS({
      [url]: () => Response.json(publicJwks),
      "https://evil.test": () => Response.json({ keys: [attackerJwk] }),
    });
    const target = await victim();
    const token = await signToken(
      { sub: target.user.workosUserId },
      { key: attackerKeys.privateKey, header: header(attackerJwk) },
    );
    await expectRefusedBeforeD1(target, `Bearer ${token}`, { WORKOS_JWKS_URL: url });
    expect(workos.count("https://evil.test")).toBe(0);
  });

  it.for<{ name: string; mint: (user: User) => Promise<string> }>([
    {
      name: "case 11: an expired token",
      mint: (u) => signToken({ sub: u.workosUserId }, { expiresIn: -120 }),
    },
    {
      name: "case 11: a token without exp",
      mint: (u) => signToken({ sub: u.workosUserId }, { expiresIn: null }),
    },
    {
      name: "case 11: a token whose nbf is in the future",
      mint: (u) => signToken({ sub: u.workosUserId, nbf: Math.floor(Date.now() / 1000) + 600 }),
    },
    {
      name: "case 12: a token from another issuer",
      mint: (u) => signToken({ sub: u.workosUserId }, { issuer: "https://evil.test" }),
    },
    {
      name: "case 12: a token from a look-alike issuer",
      mint: (u) =>
        signToken({ sub: u.workosUserId }, { issuer: "https://api.workos.com/user_management/client_other" }),
    },
    {
      name: "case 12: a token without iss",
      mint: (u) => signRaw({ alg: "RS256", kid: trustedKid }, { ...claimsFor(u), iss: undefined }),
    },
    {
      name: "a token without sub",
      mint: (u) => signRaw({ alg: "RS256", kid: trustedKid }, { ...claimsFor(u), sub: undefined }),
    },
    {
      name: "a token whose sub is not a string",
      mint: (u) => signRaw({ alg: "RS256", kid: trustedKid }, { ...claimsFor(u), sub: 42 as never }),
    },
    {
      name: "case 13: a token with an unknown crit header parameter",
      mint: (u) =>
        signRaw(
          {
            alg: "RS256",
            kid: trustedKid,
            crit: ["urn:example:must-understand"],
            "urn:example:must-understand": true,
          },
          claimsFor(u),
        ),
    },
    {
      name: "a token with a tampered payload",
      mint: async (u) => {
        const [header, , signature] = (await signToken({ sub: "user_someone_else" })).split(".");
        return `${header}.${b64url(claimsFor(u))}.${signature}`;
      },
    },
  ])("$name: 401", async ({ mint }) => {
    mockWorkOS();
    const target = await victim();
    await expectRefusedBeforeD1(target, `Bearer ${await mint(target.user)}`);
  });

  it("accepts a hand-signed token with the same claims (the cases above fail for their reason)", async () => {
    mockWorkOS();
    const target = await victim();
    const token = await signRaw({ alg: "RS256", kid: trustedKid }, claimsFor(target.user));
    const response = await call("/api/v1/users/me", { token });
    expect(response.status).toBe(200);
  });

  it("case 14: returns 401 quickly for an Authorization header over 8 KB, even with a valid token", async () => {
    mockWorkOS();
    const target = await victim();
    const pad = (length: number) => signToken({ sub: target.user.workosUserId, pad: "x".repeat(length) });
    const big = await pad(7000);
    expect(`Bearer ${big}`.length).toBeGreaterThan(MAX_AUTHORIZATION_LENGTH);
    const started = performance.now();
    await expectRefusedBeforeD1(target, `Bearer ${big}`);
    expect(performance.now() - started).toBeLessThan(1000);

    // The limit, not the token, is what refused it: a token just under the limit is accepted.
    const base = (await pad(0)).length + "Bearer ".length;
    const fits = await pad(Math.floor(((MAX_AUTHORIZATION_LENGTH - base) * 3) / 4) - 8);
    expect(`Bearer ${fits}`.length).toBeLessThanOrEqual(MAX_AUTHORIZATION_LENGTH);
    expect((await call("/api/v1/users/me", { token: fits })).status).toBe(200);
  });
});

describe("bearer authentication: the caller's account", () => {
  it("returns 401 for a valid token whose sub neither D1 nor WorkOS knows", async () => {
    mockWorkOS({ [`${WORKOS_API_URL}/user_management/users/`]: () => new Response("{}", { status: 404 }) });
    const target = await victim();
    const { response } = await attemptPatch(
      target,
      `Bearer ${await signToken({ sub: "user_nobody_knows" })}`,
    );
    await expectUnauthenticated(response);
    await expectUnchanged(target.user);
  });

  it.for(
    (["inactive", "deleted"] as const).flatMap((state) =>
      (["GET /users/me", "the PATCH"] as const).map((request) => ({ state, request })),
    ),
  )(
    "case 22: refuses the token of a user who is $state on $request, and writes nothing",
    async ({ state, request }) => {
      mockWorkOS();
      const target = await victim({ state });
      const token = await signToken({ sub: target.user.workosUserId });
      const response =
        request === "the PATCH"
          ? (await attemptPatch(target, `Bearer ${token}`)).response
          : await call("/api/v1/users/me", { token });
      if (state === "deleted") await expectUnauthenticated(response);
      else {
        expect(response.status).toBe(403);
        expect(await response.json()).toEqual({
          detail: "This account is not active.",
          code: "user_inactive",
        });
      }
      await expectUnchanged(target.user, target.upload);
    },
  );

  it.for(["https://api.workos.com", "https://api.workos.com/user_management/client_test"])(
    "accepts the default issuer %s",
    async (issuer) => {
      mockWorkOS();
      const { user } = await victim();
      const response = await call("/api/v1/users/me", {
        token: await signToken({ sub: user.workosUserId }, { issuer }),
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { id: string }).id).toBe(user.id);
    },
  );

  it("accepts only the configured issuers when WORKOS_ISSUERS is set", async () => {
    mockWorkOS();
    const { user } = await victim();
    const custom = { WORKOS_ISSUERS: "https://auth.example.com, https://api.workos.com" };
    const ok = async (issuer: string) =>
      call("/api/v1/users/me", {
        token: await signToken({ sub: user.workosUserId }, { issuer }),
        env: custom,
      });
    expect((await ok("https://auth.example.com")).status).toBe(200);
    expect((await ok("https://api.workos.com")).status).toBe(200);
    expect((await ok(ISSUER)).status).toBe(401);
  });
});

describe("the WorkOS JWKS", () => {
  it("is fetched once across many requests, sequential and concurrent", async () => {
    const url = freshJwksUrl();
    const workos = mockWorkOS({ [url]: () => Response.json(publicJwks) });
    const { user } = await victim();
    const token = await signToken({ sub: user.workosUserId });
    const get = () => call("/api/v1/users/me", { token, env: { WORKOS_JWKS_URL: url } });
    const concurrent = await Promise.all(Array.from({ length: 20 }, get));
    for (const response of concurrent) expect(response.status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await get()).status).toBe(200);
    expect(workos.count(url)).toBe(1);
  });

  it.for<{ name: string; responder: (request: Request) => Response | Promise<Response> }>([
    { name: "case 16: it answers 500", responder: () => new Response("oops", { status: 500 }) },
    {
      name: "case 16: it answers with a redirect",
      responder: () => Response.redirect("https://evil.test/jwks.json", 302),
    },
    {
      name: "case 16: it answers with something that is not JSON",
      responder: () => new Response("<html>hi</html>", { headers: { "content-type": "text/html" } }),
    },
    {
      name: "case 16: it answers with JSON that is not a key set",
      responder: () => Response.json({ hello: "world" }),
    },
    {
      name: "case 15: it cannot be reached",
      responder: () => Promise.reject(new TypeError("Network connection lost.")),
    },
  ])(
    "$name: 503 with Retry-After while no keys are cached, the redirect not followed",
    async ({ responder }) => {
      vi.spyOn(console, "error").mockImplementation(() => {});
      const url = freshJwksUrl();
      const workos = mockWorkOS({ [url]: responder, "https://evil.test": () => Response.json(publicJwks) });
      const target = await victim();
      const token = await signToken({ sub: target.user.workosUserId });
      const { response, d1 } = await attemptPatch(target, `Bearer ${token}`, { WORKOS_JWKS_URL: url });
      expect(response.status).toBe(503);
      expect(Number(response.headers.get("Retry-After"))).toBeGreaterThan(0);
      expect(await response.json()).toEqual({ detail: expect.any(String), code: "unavailable" });
      expect(d1.roundTrips).toBe(0);
      expect(workos.count(url)).toBe(1);
      expect(workos.requests[0]?.redirect).toBe("manual");
      expect(workos.count("https://evil.test")).toBe(0);
      await expectUnchanged(target.user, target.upload);
    },
  );

  it("is fetched once for concurrent first requests while it is down, and all get 503", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const url = freshJwksUrl();
    const workos = mockWorkOS({ [url]: () => new Response("down", { status: 502 }) });
    const target = await victim();
    const token = await signToken({ sub: target.user.workosUserId });
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => attemptPatch(target, `Bearer ${token}`, { WORKOS_JWKS_URL: url })),
    );
    for (const { response } of responses) expect(response.status).toBe(503);
    expect(workos.count(url)).toBe(1);
    await expectUnchanged(target.user);
  });

  it("answers 503 at once, without refetching, for a few seconds after a failed fetch; then tries again", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.spyOn(console, "error").mockImplementation(() => {});
    const url = freshJwksUrl();
    let up = false;
    const workos = mockWorkOS({
      [url]: () => (up ? Response.json(publicJwks) : new Response("down", { status: 500 })),
    });
    const target = await victim();
    const token = await signToken({ sub: target.user.workosUserId });
    const get = () => call("/api/v1/users/me", { token, env: { WORKOS_JWKS_URL: url } });
    expect((await get()).status).toBe(503);
    const again = await get();
    expect(again.status).toBe(503);
    expect(again.headers.get("Retry-After")).not.toBeNull();
    expect(workos.count(url)).toBe(1);
    up = true;
    vi.setSystemTime(Date.now() + JWKS_OUTAGE_BACKOFF_MS + 1);
    expect((await get()).status).toBe(200);
    expect(workos.count(url)).toBe(2);
  });

  it("case 15: returns 503 within the fetch timeout when it never answers", {
    timeout: JWKS_TIMEOUT_MS + 5000,
  }, async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const url = freshJwksUrl();
    mockWorkOS({
      [url]: (request) =>
        new Promise((_, reject) => {
          request.signal.addEventListener("abort", () => reject(request.signal.reason));
        }),
    });
    const target = await victim();
    const token = await signToken({ sub: target.user.workosUserId });
    const started = Date.now();
    const { response, d1 } = await attemptPatch(target, `Bearer ${token}`, { WORKOS_JWKS_URL: url });
    expect(Date.now() - started).toBeLessThan(JWKS_TIMEOUT_MS + 2000);
    await expectError(response, 503, "unavailable");
    expect(d1.roundTrips).toBe(0);
    await expectUnchanged(target.user, target.upload);
  });

  it("case 15: keeps verifying known keys when it is down after the cache period", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const url = freshJwksUrl();
    let up = true;
    const workos = mockWorkOS({
      [url]: () => (up ? Response.json(publicJwks) : new Response("down", { status: 503 })),
    });
    const { user } = await victim();
    const get = async () =>
      call("/api/v1/users/me", {
        token: await signToken({ sub: user.workosUserId }),
        env: { WORKOS_JWKS_URL: url },
      });
    expect((await get()).status).toBe(200);
    up = false;
    vi.setSystemTime(Date.now() + JWKS_MAX_AGE_MS + 60_000);
    expect((await get()).status).toBe(200);
    expect(workos.count(url)).toBe(2);
    // The failed refresh waits for the cooldown before it is tried again.
    expect((await get()).status).toBe(200);
    expect(workos.count(url)).toBe(2);
    // Unknown kids are still refused while it is down.
    const stranger = await signToken({ sub: user.workosUserId }, { header: { kid: "unknown" } });
    const refused = await call("/api/v1/users/me", { token: stranger, env: { WORKOS_JWKS_URL: url } });
    expect(refused.status).toBe(401);
  });

  it("refreshes keys after the cache period, picking up a rotated key", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const url = freshJwksUrl();
    const rotated = await generateKeyPair("RS256", { extractable: true });
    const rotatedJwk = { ...(await exportJWK(rotated.publicKey)), kid: "rotated", alg: "RS256" };
    let keys = publicJwks.keys;
    const workos = mockWorkOS({ [url]: () => Response.json({ keys }) });
    const { user } = await victim();
    const as = async (options: Parameters<typeof signToken>[1]) =>
      call("/api/v1/users/me", {
        token: await signToken({ sub: user.workosUserId }, options),
        env: { WORKOS_JWKS_URL: url },
      });
    expect((await as({})).status).toBe(200);
    keys = [...publicJwks.keys, rotatedJwk as never];
    vi.setSystemTime(Date.now() + JWKS_COOLDOWN_MS + 1000);
    expect((await as({ key: rotated.privateKey, header: { kid: "rotated" } })).status).toBe(200);
    expect(workos.count(url)).toBe(2);
  });
});
