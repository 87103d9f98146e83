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
import { call } from "./helpers/api";
import { readUser } from "./helpers/db";
import { attemptPatch, expectUnauthenticated, expectUnchanged, victim } from "./helpers/refusals";
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

describe("bearer authentication: malformed headers", () => {
  const cases: [string, (token: string) => string | undefined][] = [
    ["no Authorization header", () => undefined],
    ["a Basic credential", () => `Basic ${btoa("user:password")}`],
    ["Bearer with nothing after it", () => "Bearer"],
    ["Bearer and a space only", () => "Bearer "],
    ["two tokens", (token) => `Bearer ${token} ${token}`],
    ["two Bearer credentials", (token) => `Bearer ${token}, Bearer ${token}`],
    ["a string that is not a JWT", () => "Bearer not-a-jwt"],
    ["a two-segment token", (token) => `Bearer ${token.split(".").slice(0, 2).join(".")}`],
    ["broken base64url", (token) => `Bearer ${token.replace(".", ".@@")}`],
    ["a header that is not JSON", (token) => `Bearer ${b64url("{not json")}.${token.split(".")[1]}.AAAA`],
    [
      "a header that is JSON but not an object",
      (token) => `Bearer ${b64url("[]")}.${token.split(".")[1]}.AAAA`,
    ],
    ["a payload that is not JSON", (token) => `Bearer ${token.split(".")[0]}.${b64url("nope")}.AAAA`],
  ];

  for (const [name, authorization] of cases) {
    it(`returns 401 for ${name}, before touching the database`, async () => {
      mockWorkOS();
      const target = await victim();
      const token = await signToken({ sub: target.user.workosUserId });
      const { response, d1 } = await attemptPatch(target, authorization(token));
      await expectUnauthenticated(response);
      expect(d1.roundTrips).toBe(0);
      await expectUnchanged(target.user);
    });
  }
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
  it("returns 401 for alg none", async () => {
    mockWorkOS();
    const target = await victim();
    const token = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(claimsFor(target.user))}.`;
    const { response, d1 } = await attemptPatch(target, `Bearer ${token}`);
    await expectUnauthenticated(response);
    expect(d1.roundTrips).toBe(0);
    await expectUnchanged(target.user);
  });

  it("returns 401 for alg none with the real kid and a signature segment", async () => {
    mockWorkOS();
    const target = await victim();
    const token = `${b64url({ alg: "none", kid: trustedKid })}.${b64url(claimsFor(target.user))}.AAAA`;
    const { response } = await attemptPatch(target, `Bearer ${token}`);
    await expectUnauthenticated(response);
    await expectUnchanged(target.user);
  });

  it("returns 401 for HS256 signed with the RSA public key as the secret", async () => {
    mockWorkOS();
    const target = await victim();
    const pem = await exportSPKI((await importJWK(publicJwks.keys[0] as JWK, "RS256")) as CryptoKey);
    for (const secret of [pem, JSON.stringify(publicJwks.keys[0])]) {
      const token = await signToken(
        { sub: target.user.workosUserId },
        { key: new TextEncoder().encode(secret), header: { alg: "HS256" } },
      );
      const { response, d1 } = await attemptPatch(target, `Bearer ${token}`);
      await expectUnauthenticated(response);
      expect(d1.roundTrips).toBe(0);
    }
    await expectUnchanged(target.user);
  });

  for (const alg of ["RS384", "PS256", "ES256"] as const) {
    it(`returns 401 for ${alg} by an attacker key`, async () => {
      mockWorkOS();
      const target = await victim();
      const { privateKey } = await generateKeyPair(alg);
      for (const kid of [trustedKid, "attacker-key"]) {
        const token = await signToken(
          { sub: target.user.workosUserId },
          { key: privateKey, header: { alg, kid } },
        );
        const { response, d1 } = await attemptPatch(target, `Bearer ${token}`);
        await expectUnauthenticated(response);
        expect(d1.roundTrips).toBe(0);
      }
      await expectUnchanged(target.user);
    });
  }

  it("returns 401 for RS256 by an attacker key reusing the real kid", async () => {
    mockWorkOS();
    const target = await victim();
    const token = await signToken({ sub: target.user.workosUserId }, { key: attackerKeys.privateKey });
    const { response, d1 } = await attemptPatch(target, `Bearer ${token}`);
    await expectUnauthenticated(response);
    expect(d1.roundTrips).toBe(0);
    await expectUnchanged(target.user);
  });

  it("returns 401 for a token signed by the real key with an unknown kid", async () => {
    const url = freshJwksUrl();
    const workos = mockWorkOS({ [url]: () => Response.json(publicJwks) });
    const target = await victim();
    const token = await signToken({ sub: target.user.workosUserId }, { header: { kid: "rotated-away" } });
    const { response } = await attemptPatch(target, `Bearer ${token}`, { WORKOS_JWKS_URL: url });
    await expectUnauthenticated(response);
    expect(workos.count(url)).toBe(1);
    await expectUnchanged(target.user);
  });

  it("refetches the JWKS at most once for a burst of random kids", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const url = freshJwksUrl();
    const workos = mockWorkOS({ [url]: () => Response.json(publicJwks) });
    const target = await victim();
    const warm = await call("/api/v1/users/me", {
      token: await signToken({ sub: target.user.workosUserId }),
      env: { WORKOS_JWKS_URL: url },
    });
    expect(warm.status).toBe(200);
    expect(workos.count(url)).toBe(1);

    const burst = async () => {
      const responses = await Promise.all(
        Array.from({ length: 25 }, async () => {
          const token = await signToken(
            { sub: target.user.workosUserId },
            { key: attackerKeys.privateKey, header: { kid: crypto.randomUUID() } },
          );
          return (await attemptPatch(target, `Bearer ${token}`, { WORKOS_JWKS_URL: url })).response;
        }),
      );
      for (const response of responses) await expectUnauthenticated(response);
    };
    // Within the cooldown of the first fetch: no refetch at all.
    await burst();
    expect(workos.count(url)).toBe(1);
    // After it: one refetch for the whole burst.
    vi.setSystemTime(Date.now() + JWKS_COOLDOWN_MS + 1000);
    await burst();
    expect(workos.count(url)).toBe(2);
    await burst();
    expect(workos.count(url)).toBe(2);
    await expectUnchanged(target.user);
  });

  for (const [name, kid] of [
    ["a path", "../../../etc/passwd"],
    ["a URL", "https://evil.test/key"],
    ["SQL", "x' OR '1'='1'; DROP TABLE users; --"],
    ["1 KB long", "k".repeat(1024)],
    ["10 KB long", "k".repeat(10 * 1024)],
  ] as const) {
    it(`returns 401 for a kid that is ${name}, without fetching the JWKS`, async () => {
      const url = freshJwksUrl();
      const workos = mockWorkOS({ [url]: () => Response.json(publicJwks) });
      const target = await victim();
      const token = await signToken({ sub: target.user.workosUserId }, { header: { kid } });
      const { response } = await attemptPatch(target, `Bearer ${token}`, { WORKOS_JWKS_URL: url });
      await expectUnauthenticated(response);
      expect(workos.requests).toHaveLength(0);
      await expectUnchanged(target.user);
    });
  }

  it("returns 401 for jku, x5u and jwk headers and never requests what they point at", async () => {
    const url = freshJwksUrl();
    const workos = mockWorkOS({
      [url]: () => Response.json(publicJwks),
      "https://evil.test": async () => Response.json({ keys: [await exportJWK(attackerKeys.publicKey)] }),
    });
    const target = await victim();
    const attackerJwk = { ...(await exportJWK(attackerKeys.publicKey)), kid: "evil" };
    const headers = [
      { jku: "https://evil.test/jwks.json", kid: "evil" },
      { jku: "https://evil.test/jwks.json" },
      { x5u: "https://evil.test/cert.pem", kid: "evil" },
      { jwk: attackerJwk, kid: "evil" },
      { jwk: attackerJwk },
    ];
    for (const header of headers) {
      const token = await signToken(
        { sub: target.user.workosUserId },
        { key: attackerKeys.privateKey, header },
      );
      const { response } = await attemptPatch(target, `Bearer ${token}`, { WORKOS_JWKS_URL: url });
      await expectUnauthenticated(response);
    }
    expect(workos.count("https://evil.test")).toBe(0);
    await expectUnchanged(target.user);
  });

  const claimCases: [string, (user: User) => Promise<string>][] = [
    ["an expired token", (u) => signToken({ sub: u.workosUserId }, { expiresIn: -120 })],
    ["a token without exp", (u) => signToken({ sub: u.workosUserId }, { expiresIn: null })],
    [
      "a token whose nbf is in the future",
      (u) => signToken({ sub: u.workosUserId, nbf: Math.floor(Date.now() / 1000) + 600 }),
    ],
    [
      "a token from another issuer",
      (u) => signToken({ sub: u.workosUserId }, { issuer: "https://evil.test" }),
    ],
    [
      "a token from a look-alike issuer",
      (u) =>
        signToken({ sub: u.workosUserId }, { issuer: "https://api.workos.com/user_management/client_other" }),
    ],
    [
      "a token without iss",
      (u) => signRaw({ alg: "RS256", kid: trustedKid }, { ...claimsFor(u), iss: undefined }),
    ],
    [
      "a token without sub",
      (u) => signRaw({ alg: "RS256", kid: trustedKid }, { ...claimsFor(u), sub: undefined }),
    ],
    [
      "a token whose sub is not a string",
      (u) => signRaw({ alg: "RS256", kid: trustedKid }, { ...claimsFor(u), sub: 42 as never }),
    ],
    [
      "a token with an unknown crit header parameter",
      (u) =>
        signRaw(
          {
            alg: "RS256",
            kid: trustedKid,
            crit: ["urn:example:must-understand"],
            "urn:example:must-understand": true,
          },
          claimsFor(u),
        ),
    ],
    [
      "a token with a tampered payload",
      async (u) => {
        const [header, , signature] = (await signToken({ sub: "user_someone_else" })).split(".");
        return `${header}.${b64url(claimsFor(u))}.${signature}`;
      },
    ],
  ];

  for (const [name, mint] of claimCases) {
    it(`returns 401 for ${name}`, async () => {
      mockWorkOS();
      const target = await victim();
      const { response, d1 } = await attemptPatch(target, `Bearer ${await mint(target.user)}`);
      await expectUnauthenticated(response);
      expect(d1.roundTrips).toBe(0);
      await expectUnchanged(target.user);
    });
  }

  it("accepts a hand-signed token with the same claims (the cases above fail for their reason)", async () => {
    mockWorkOS();
    const target = await victim();
    const token = await signRaw({ alg: "RS256", kid: trustedKid }, claimsFor(target.user));
    const response = await call("/api/v1/users/me", { token });
    expect(response.status).toBe(200);
  });

  it("returns 401 quickly for an Authorization header over 8 KB, even with a valid token", async () => {
    mockWorkOS();
    const target = await victim();
    const pad = (length: number) => signToken({ sub: target.user.workosUserId, pad: "x".repeat(length) });
    const big = await pad(7000);
    expect(`Bearer ${big}`.length).toBeGreaterThan(MAX_AUTHORIZATION_LENGTH);
    const started = performance.now();
    const { response, d1 } = await attemptPatch(target, `Bearer ${big}`);
    expect(performance.now() - started).toBeLessThan(1000);
    await expectUnauthenticated(response);
    expect(d1.roundTrips).toBe(0);
    await expectUnchanged(target.user);

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

  it("returns 403 user_inactive for an inactive user, and writes nothing", async () => {
    mockWorkOS();
    const target = await victim({ state: "inactive" });
    const { response } = await attemptPatch(
      target,
      `Bearer ${await signToken({ sub: target.user.workosUserId })}`,
    );
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ detail: "This account is not active.", code: "user_inactive" });
    await expectUnchanged(target.user);
  });

  it("returns 401 for a deleted user, and writes nothing", async () => {
    mockWorkOS();
    const target = await victim({ state: "deleted" });
    const { response } = await attemptPatch(
      target,
      `Bearer ${await signToken({ sub: target.user.workosUserId })}`,
    );
    await expectUnauthenticated(response);
    await expectUnchanged(target.user);
  });

  it("accepts both default issuers", async () => {
    mockWorkOS();
    const { user } = await victim();
    for (const issuer of ["https://api.workos.com", "https://api.workos.com/user_management/client_test"]) {
      const response = await call("/api/v1/users/me", {
        token: await signToken({ sub: user.workosUserId }, { issuer }),
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { id: string }).id).toBe(user.id);
    }
  });

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

  const outages: [string, (request: Request) => Response | Promise<Response>][] = [
    ["answers 500", () => new Response("oops", { status: 500 })],
    ["answers with a redirect", () => Response.redirect("https://evil.test/jwks.json", 302)],
    [
      "answers with something that is not JSON",
      () => new Response("<html>hi</html>", { headers: { "content-type": "text/html" } }),
    ],
    ["answers with JSON that is not a key set", () => Response.json({ hello: "world" })],
    ["cannot be reached", () => Promise.reject(new TypeError("Network connection lost."))],
  ];

  for (const [name, responder] of outages) {
    it(`returns 503 with Retry-After when it ${name} and no keys are cached`, async () => {
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
      await expectUnchanged(target.user);
    });
  }

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

  it("returns 503 within the fetch timeout when it never answers", {
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
    const { response } = await attemptPatch(target, `Bearer ${token}`, { WORKOS_JWKS_URL: url });
    expect(Date.now() - started).toBeLessThan(JWKS_TIMEOUT_MS + 2000);
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).not.toBeNull();
    await expectUnchanged(target.user);
  });

  it("keeps verifying known keys when it is down after the cache period", async () => {
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
