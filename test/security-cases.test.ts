/**
 * The security checklist, `SECURITY-CASES.md`, as one file: one test per case, named after it and
 * grouped by the document's sections. Each asserts the status, the error code (and
 * `WWW-Authenticate` / `Retry-After` where the contract wants them) and, by reading back the user
 * row, upload row or R2 object, that nothing was written. The other test files go deeper; this
 * one is the list to check off.
 *
 * Every case runs inside workerd. What these tests cannot reach, and why:
 * - Case 8's "per cooldown" is per isolate: production runs many isolates, each with its own
 *   cache and cooldown; one test isolate proves the rule for one.
 * - Case 36's "nor in any log" covers what the worker logs (every `console` level). Logs that the
 *   platform writes itself (Cloudflare's request logs, which hold full URLs with presigned
 *   queries, or a browser's history) are outside the worker.
 * - Case 44: the Rate Limiting binding counts per Cloudflare location and is eventually
 *   consistent; the local binding is exact. The tests prove the service's side (429, Retry-After,
 *   nothing applied), not the global accuracy of the limiter.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { exportJWK, exportSPKI, generateKeyPair, importJWK, type JWK } from "jose";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type User, users, webhookEvents } from "../src/db/schema";
import { MAX_AUTHORIZATION_LENGTH } from "../src/identity/access-token";
import { JWKS_COOLDOWN_MS, JWKS_MAX_AGE_MS, JWKS_TIMEOUT_MS } from "../src/identity/key-set";
import { MAX_JSON_BODY_BYTES } from "../src/lib/json-body";
import { originalKeyFor, thumbKeyFor } from "../src/lib/object-keys";
import { amzDate } from "../src/lib/presign";
import { UPLOAD_URL_TTL_SECONDS } from "../src/routes/uploads/start-upload";
import * as images from "./fixtures/images";
import { type CallOptions, call, json } from "./helpers/api";
import { changedBefore } from "./helpers/counting-d1";
import { createUpload, createUser, db, readUpload, readUser } from "./helpers/db";
import { faultyD1 } from "./helpers/faulty-d1";
import {
  attemptPatch,
  type ErrorBody,
  expectError,
  expectUnauthenticated,
  expectUnchanged,
  expectValidationErrorAt,
  type Victim,
  victim,
} from "./helpers/refusals";
import {
  attackerKeys,
  b64url,
  ISSUER,
  publicJwks,
  signRaw,
  signToken,
  tokenFor,
  trustedKid,
} from "./helpers/tokens";
import { completeUpload, countUploads, emulated, putObject, startUpload } from "./helpers/uploads";
import { freshJwksUrl, mockWorkOS, WORKOS_API_URL } from "./helpers/workos";
import {
  deliverWebhook,
  newWorkOSUserId,
  signWebhook,
  WEBHOOK_SECRET,
  WORKOS_API_KEY,
  workosEvent,
  workosUserObject,
} from "./helpers/workos-users";

beforeEach(() => {
  mockWorkOS();
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const ME = "/api/v1/users/me";
const PATCH_ME = "/api/v1/users/me/profile-picture";
const sharedUser = (id: string) => `/api/v1/shared/users/${id}`;
const R2_SECRET = "test-secret-access-key";
const NIL_UUID = "00000000-0000-0000-0000-000000000000";
const NEW_UPLOAD = { kind: "image", scope: "profile_picture", contentType: "image/png", size: 100 };

/** Each authorization is 401 before any D1 round trip, and the victim is unchanged. */
async function expectRefused(
  target: Victim,
  authorizations: (string | undefined)[],
  overrides: CallOptions["env"] = {},
) {
  for (const authorization of authorizations) {
    const { response, d1 } = await attemptPatch(target, authorization, overrides);
    await expectUnauthenticated(response);
    expect(d1.roundTrips).toBe(0);
  }
  await expectUnchanged(target.user, target.upload);
}

const bearer = (token: string) => `Bearer ${token}`;
const claimsOf = (user: User) => {
  const now = Math.floor(Date.now() / 1000);
  return { sub: user.workosUserId, iss: ISSUER, iat: now, exp: now + 300 };
};

/** The caller PATCHes `path` with `body` (JSON unless a string, which goes as is). */
async function patchAs(caller: User, path: string, body: unknown, headers?: Record<string, string>) {
  const token = await tokenFor(caller);
  return typeof body === "string"
    ? call(path, { method: "PATCH", token, body, headers })
    : call(path, { method: "PATCH", token, json: body, headers });
}

/** Silence and collect everything the worker logs, every level. */
function captureLogs(): string[] {
  const lines: string[] = [];
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args) => void lines.push(args.map(String).join(" ")));
  }
  return lines;
}

describe("Tokens", () => {
  it("case 1: no Authorization header is 401 with WWW-Authenticate: Bearer, unchanged", async () => {
    await expectRefused(await victim(), [undefined]);
  });

  it("case 2: Basic, an empty Bearer, two tokens, or a string that is not a JWT is 401", async () => {
    const target = await victim();
    const { token } = target;
    await expectRefused(target, [
      `Basic ${btoa("user:password")}`,
      "Bearer",
      "Bearer ",
      `Bearer ${token} ${token}`,
      `Bearer ${token}, Bearer ${token}`,
      "Bearer not-a-jwt",
    ]);
  });

  it("case 3: a two-segment token, broken base64url, or a header that is not JSON is 401, never 500", async () => {
    const target = await victim();
    const [header, payload] = target.token.split(".");
    await expectRefused(target, [
      bearer(`${header}.${payload}`),
      bearer(`${header}.@@${payload}.AAAA`),
      bearer(`${b64url("{not json")}.${payload}.AAAA`),
      bearer(`${b64url("[]")}.${payload}.AAAA`),
    ]);
  });

  it("case 4: alg none is 401", async () => {
    const target = await victim();
    const claims = b64url(claimsOf(target.user));
    await expectRefused(target, [
      bearer(`${b64url({ alg: "none", typ: "JWT" })}.${claims}.`),
      bearer(`${b64url({ alg: "none", kid: trustedKid })}.${claims}.AAAA`),
    ]);
  });

  it("case 5: HS256 signed with the RSA public key as the secret is 401", async () => {
    const target = await victim();
    const pem = await exportSPKI((await importJWK(publicJwks.keys[0] as JWK, "RS256")) as CryptoKey);
    const tokens = await Promise.all(
      [pem, JSON.stringify(publicJwks.keys[0])].map((secret) =>
        signToken(
          { sub: target.user.workosUserId },
          { key: new TextEncoder().encode(secret), header: { alg: "HS256" } },
        ),
      ),
    );
    await expectRefused(target, tokens.map(bearer));
  });

  it("case 6: RS384, PS256 or ES256 by an attacker key is 401", async () => {
    const target = await victim();
    const tokens = [];
    for (const alg of ["RS384", "PS256", "ES256"] as const) {
      const { privateKey } = await generateKeyPair(alg);
      tokens.push(await signToken({ sub: target.user.workosUserId }, { key: privateKey, header: { alg } }));
    }
    await expectRefused(target, tokens.map(bearer));
  });

  it("case 7: RS256 by an attacker key reusing the real kid is 401", async () => {
    const target = await victim();
    const token = await signToken({ sub: target.user.workosUserId }, { key: attackerKeys.privateKey });
    await expectRefused(target, [bearer(token)]);
  });

  it("case 8: a burst of random kids is all 401, and the JWKS is refetched at most once per cooldown", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const url = freshJwksUrl();
    const workos = mockWorkOS({ [url]: () => Response.json(publicJwks) });
    const target = await victim();
    const burst = async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const header = { kid: crypto.randomUUID() };
          const token = await signToken({ sub: target.user.workosUserId }, { header });
          return attemptPatch(target, bearer(token), { WORKOS_JWKS_URL: url });
        }),
      );
      for (const { response } of results) await expectUnauthenticated(response);
    };
    await burst();
    expect(workos.count(url)).toBe(1);
    vi.setSystemTime(Date.now() + JWKS_COOLDOWN_MS + 1000);
    await burst();
    await burst();
    expect(workos.count(url)).toBe(2);
    await expectUnchanged(target.user, target.upload);
  });

  it("case 9: a kid that is a path, SQL or 10 KB long is 401 with no JWKS fetch", async () => {
    const url = freshJwksUrl();
    const workos = mockWorkOS({ [url]: () => Response.json(publicJwks) });
    const target = await victim();
    const kids = ["../../../etc/passwd", "x' OR '1'='1'; DROP TABLE users; --", "k".repeat(10 * 1024)];
    const tokens = await Promise.all(
      kids.map((kid) => signToken({ sub: target.user.workosUserId }, { header: { kid } })),
    );
    await expectRefused(target, tokens.map(bearer), { WORKOS_JWKS_URL: url });
    expect(workos.requests).toHaveLength(0);
  });

  it("case 10: jku, x5u or jwk pointing at another host is 401, and nothing is requested there", async () => {
    const url = freshJwksUrl();
    const attackerJwk = { ...(await exportJWK(attackerKeys.publicKey)), kid: "evil" };
    const workos = mockWorkOS({
      [url]: () => Response.json(publicJwks),
      "https://evil.test": () => Response.json({ keys: [attackerJwk] }),
    });
    const target = await victim();
    const headers = [
      { jku: "https://evil.test/jwks.json", kid: "evil" },
      { x5u: "https://evil.test/cert.pem", kid: "evil" },
      { jwk: attackerJwk, kid: "evil" },
      { jwk: attackerJwk },
    ];
    const tokens = await Promise.all(
      headers.map((header) =>
        signToken({ sub: target.user.workosUserId }, { key: attackerKeys.privateKey, header }),
      ),
    );
    await expectRefused(target, tokens.map(bearer), { WORKOS_JWKS_URL: url });
    expect(workos.count("https://evil.test")).toBe(0);
  });

  it("case 11: an expired token, one without exp, and one with nbf in the future are 401", async () => {
    const target = await victim();
    const sub = target.user.workosUserId;
    const tokens = await Promise.all([
      signToken({ sub }, { expiresIn: -120 }),
      signToken({ sub }, { expiresIn: null }),
      signToken({ sub, nbf: Math.floor(Date.now() / 1000) + 600 }),
    ]);
    await expectRefused(target, tokens.map(bearer));
  });

  it("case 12: an issuer not in the configured list is 401", async () => {
    const target = await victim();
    const issuers = ["https://evil.test", "https://api.workos.com/user_management/client_other"];
    const tokens = await Promise.all(
      issuers.map((issuer) => signToken({ sub: target.user.workosUserId }, { issuer })),
    );
    await expectRefused(target, tokens.map(bearer));
  });

  it("case 13: an unknown crit header parameter is 401", async () => {
    const target = await victim();
    const critical = "urn:example:must-understand";
    const header = { alg: "RS256", kid: trustedKid, crit: [critical], [critical]: true };
    await expectRefused(target, [bearer(await signRaw(header, claimsOf(target.user)))]);
    // The same token without crit is accepted: crit is what refused it.
    const plain = await signRaw({ alg: "RS256", kid: trustedKid }, claimsOf(target.user));
    expect((await call(ME, { token: plain })).status).toBe(200);
  });

  it("case 14: an Authorization header over 8 KB is 401, fast, with no D1 round trip", async () => {
    const target = await victim();
    const big = await signToken({ sub: target.user.workosUserId, pad: "x".repeat(7000) });
    expect(bearer(big).length).toBeGreaterThan(MAX_AUTHORIZATION_LENGTH);
    const started = performance.now();
    await expectRefused(target, [bearer(big)]);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("case 15: with no keys cached, an unreachable JWKS is 503 within the fetch timeout; with keys cached, known keys still verify", {
    timeout: JWKS_TIMEOUT_MS + 10_000,
  }, async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const target = await victim();
    const down = freshJwksUrl();
    const hanging = freshJwksUrl();
    mockWorkOS({
      [down]: () => Promise.reject(new TypeError("Network connection lost.")),
      [hanging]: (request) =>
        new Promise((_, reject) =>
          request.signal.addEventListener("abort", () => reject(request.signal.reason)),
        ),
    });
    for (const url of [down, hanging]) {
      const started = Date.now();
      const { response, d1 } = await attemptPatch(target, bearer(target.token), { WORKOS_JWKS_URL: url });
      expect(Date.now() - started).toBeLessThan(JWKS_TIMEOUT_MS + 2000);
      await expectError(response, 503, "unavailable");
      expect(d1.roundTrips).toBe(0);
    }
    await expectUnchanged(target.user, target.upload);

    vi.useFakeTimers({ toFake: ["Date"] });
    const url = freshJwksUrl();
    let up = true;
    const workos = mockWorkOS({
      [url]: () =>
        up ? Response.json(publicJwks) : Promise.reject(new TypeError("Network connection lost.")),
    });
    // A token minted now each time: the clock moves past the first one's exp.
    const me = async () =>
      call(ME, { token: await signToken({ sub: target.user.workosUserId }), env: { WORKOS_JWKS_URL: url } });
    expect((await me()).status).toBe(200);
    up = false;
    vi.setSystemTime(Date.now() + JWKS_MAX_AGE_MS + 60_000);
    expect((await me()).status).toBe(200);
    expect(workos.count(url)).toBe(2);
  });

  it("case 16: a JWKS answering a redirect, a 500 or not-JSON is unreachable: 503, the redirect not followed", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const target = await victim();
    for (const answer of [
      () => Response.redirect("https://evil.test/jwks.json", 302),
      () => new Response("oops", { status: 500 }),
      () => new Response("<html>hi</html>", { headers: { "Content-Type": "text/html" } }),
    ]) {
      const url = freshJwksUrl();
      const workos = mockWorkOS({ [url]: answer, "https://evil.test": () => Response.json(publicJwks) });
      const { response, d1 } = await attemptPatch(target, bearer(target.token), { WORKOS_JWKS_URL: url });
      await expectError(response, 503, "unavailable");
      expect(d1.roundTrips).toBe(0);
      expect(workos.count(url)).toBe(1);
      // The mock never follows redirects itself: what proves it is the worker asking for none.
      expect(workos.requests[0]?.redirect).toBe("manual");
      expect(workos.count("https://evil.test")).toBe(0);
    }
    await expectUnchanged(target.user, target.upload);
  });
});

describe("Who may do what", () => {
  it("case 17: a member's token on a teammate's path is 403 and the teammate is unchanged", async () => {
    const member = await victim();
    const teammate = await createUser();
    const response = await patchAs(member.user, `${sharedUser(teammate.id)}/profile-picture`, {
      uploadId: member.upload.id,
    });
    await expectError(response, 403, "forbidden");
    await expectUnchanged(teammate, member.user, member.upload);
  });

  it("case 18: any token on a path of a user in another organization is 404, unchanged", async () => {
    const outsider = await victim({ role: "admin", organizationId: "org_other" });
    const target = await createUser();
    const token = outsider.token;
    for (const id of [target.id, crypto.randomUUID()]) {
      await expectError(await call(sharedUser(id), { token }), 404, "user_not_found");
      const response = await patchAs(outsider.user, `${sharedUser(id)}/profile-picture`, {
        uploadId: outsider.upload.id,
      });
      await expectError(response, 404, "user_not_found");
    }
    await expectUnchanged(target, outsider.user);
  });

  it("case 19: someone else's uploadId gets the same 404 as one that does not exist, unchanged", async () => {
    const user = await createUser();
    const theirs = await createUpload(await createUser());
    const [a, b] = [
      await patchAs(user, PATCH_ME, { uploadId: theirs.id }),
      await patchAs(user, PATCH_ME, { uploadId: crypto.randomUUID() }),
    ];
    expect(await expectError(a, 404, "upload_not_found")).toEqual(
      await expectError(b, 404, "upload_not_found"),
    );
    await expectUnchanged(user, theirs);
  });

  it("case 20: an upload of another scope is 422 upload_wrong_scope, of another kind 422 upload_wrong_kind", async () => {
    const user = await createUser();
    for (const [overrides, code] of [
      [{ scope: "attachment" }, "upload_wrong_scope"],
      [{ kind: "document", contentType: "application/pdf" }, "upload_wrong_kind"],
    ] as const) {
      const upload = await createUpload(user, overrides);
      await expectError(await patchAs(user, PATCH_ME, { uploadId: upload.id }), 422, code);
      await expectUnchanged(user, upload);
    }
  });

  it("case 21: a pending or failed upload is 409 upload_not_ready", async () => {
    const user = await createUser();
    for (const state of ["pending", "failed"] as const) {
      const upload = await createUpload(user, { state });
      await expectError(await patchAs(user, PATCH_ME, { uploadId: upload.id }), 409, "upload_not_ready");
      await expectUnchanged(user, upload);
    }
  });

  it("case 22: the token of a deleted user is 401, of an inactive one 403 user_inactive, unchanged", async () => {
    for (const [state, status, code] of [
      ["deleted", 401, "unauthenticated"],
      ["inactive", 403, "user_inactive"],
    ] as const) {
      const target = await victim({ state });
      await expectError(await call(ME, { token: target.token }), status, code);
      await expectError(await patchAs(target.user, PATCH_ME, { uploadId: target.upload.id }), status, code);
      await expectUnchanged(target.user, target.upload);
    }
  });

  it("case 23: a user_id that is not a UUID, has %00, .. or is very long is 422 or 404, never 500", async () => {
    const admin = await createUser({ role: "admin" });
    for (const segment of ["abc", "%00", `${crypto.randomUUID()}%00`, "..", "%2e%2e", "a".repeat(10_000)]) {
      for (const [method, path] of [
        ["GET", sharedUser(segment)],
        ["PATCH", `${sharedUser(segment)}/profile-picture`],
      ] as const) {
        const response = await call(path, {
          method,
          token: await signToken({ sub: admin.workosUserId }),
          json: method === "PATCH" ? { uploadId: null } : undefined,
        });
        expect([404, 422], `${method} ${segment.slice(0, 40)}`).toContain(response.status);
        const { code } = (await response.json()) as ErrorBody;
        expect(code).toMatch(/^(not_found|user_not_found|validation_error)$/);
      }
    }
    await expectUnchanged(admin);
  });
});

describe("Bodies", () => {
  it("case 24: uploadId of abc, empty, 123, [], {} or true is 422 with a uniform body", async () => {
    const user = await createUser();
    for (const value of ["abc", "", 123, [], {}, true]) {
      await expectValidationErrorAt(await patchAs(user, PATCH_ME, { uploadId: value }), ["body", "uploadId"]);
    }
    await expectUnchanged(user);
  });

  it("case 25: {} is 422 whose detail points at uploadId", async () => {
    const user = await createUser();
    const body = await expectError(await patchAs(user, PATCH_ME, {}), 422, "validation_error");
    expect(body.detail).toEqual([{ loc: ["body", "uploadId"], msg: "Field required", type: "missing" }]);
    await expectUnchanged(user);
  });

  it("case 26: upper-case UUIDs are accepted, braced ones are 422, the nil UUID is 404, on every route", async () => {
    const user = await createUser();
    const upload = await createUpload(user);
    const token = await signToken({ sub: user.workosUserId });
    const braced = (id: string) => `%7B${id}%7D`;
    const uploadPath = (id: string) => `/api/v1/uploads/${id}`;
    for (const [path, self, missing] of [
      [sharedUser, user.id, "user_not_found"],
      [uploadPath, upload.id, "upload_not_found"],
    ] as const) {
      expect((await call(path(self.toUpperCase()), { token })).status).toBe(200);
      await expectError(await call(path(braced(self)), { token }), 422, "validation_error");
      await expectError(await call(path(NIL_UUID), { token }), 404, missing);
    }
    await expectError(await patchAs(user, PATCH_ME, { uploadId: `{${upload.id}}` }), 422, "validation_error");
    await expectError(await patchAs(user, PATCH_ME, { uploadId: NIL_UUID }), 404, "upload_not_found");
    await expectUnchanged(user);
    expect((await patchAs(user, PATCH_ME, { uploadId: upload.id.toUpperCase() })).status).toBe(200);
    expect((await readUser(user.id))?.profilePictureUploadId).toBe(upload.id);
  });

  it("case 27: extra keys (userId, state, objectKey, profilePictureUrl) are 422 and never applied", async () => {
    const target = await victim();
    for (const extra of ["userId", "state", "objectKey", "profilePictureUrl"]) {
      const response = await patchAs(target.user, PATCH_ME, { uploadId: target.upload.id, [extra]: "x" });
      const body = await expectError(response, 422, "validation_error");
      expect(body.detail).toContainEqual(
        expect.objectContaining({ loc: ["body", extra], type: "extra_forbidden" }),
      );
    }
    await expectUnchanged(target.user, target.upload);
  });

  it("case 28: no Content-Type, text/plain, or application/json with an odd parameter is 415", async () => {
    const target = await victim();
    // Bytes, not a string: a string body would get `text/plain` from the Request constructor.
    const body = new TextEncoder().encode(JSON.stringify({ uploadId: target.upload.id }));
    for (const contentType of [undefined, "text/plain", "application/json ;", "application/json; x=y"]) {
      const headers: Record<string, string> =
        contentType === undefined ? {} : { "Content-Type": contentType };
      const response = await call(PATCH_ME, { method: "PATCH", token: target.token, body, headers });
      await expectError(response, 415, "unsupported_media_type");
    }
    await expectUnchanged(target.user, target.upload);
  });

  it("case 29: malformed JSON is 422; of duplicate keys the last wins and is validated", async () => {
    const target = await victim();
    const asJson = { "Content-Type": "application/json" };
    const malformed = await expectError(
      await patchAs(target.user, PATCH_ME, '{"uploadId": ', asJson),
      422,
      "validation_error",
    );
    expect(malformed.detail).toEqual([{ loc: ["body"], msg: expect.any(String), type: "json_invalid" }]);
    const lastInvalid = `{"uploadId": "${target.upload.id}", "uploadId": "abc"}`;
    await expectError(await patchAs(target.user, PATCH_ME, lastInvalid, asJson), 422, "validation_error");
    await expectUnchanged(target.user, target.upload);
    const lastValid = `{"uploadId": "abc", "uploadId": "${target.upload.id}"}`;
    expect((await patchAs(target.user, PATCH_ME, lastValid, asJson)).status).toBe(200);
  });

  it("case 30: a body over the limit is 413, also chunked without Content-Length, before any write", async () => {
    const target = await victim();
    const core = `{"uploadId": "${target.upload.id}"}`;
    const text = `${core.slice(0, -1)}${" ".repeat(MAX_JSON_BODY_BYTES)}}`;
    const bytes = new TextEncoder().encode(text);
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < bytes.length; at += 4096) controller.enqueue(bytes.slice(at, at + 4096));
        controller.close();
      },
    });
    for (const body of [text, chunked]) {
      const response = await call(PATCH_ME, {
        method: "PATCH",
        token: target.token,
        body,
        headers: { "Content-Type": "application/json" },
      });
      await expectError(response, 413, "payload_too_large");
    }
    await expectUnchanged(target.user, target.upload);
  });

  it("case 31: deeply nested JSON or a 1 MB string is 413 or 422, fast", async () => {
    const user = await createUser();
    const depth = 30_000;
    for (const body of [
      `{"uploadId": ${"[".repeat(depth)}${"]".repeat(depth)}}`,
      JSON.stringify({ uploadId: "a".repeat(1024 * 1024) }),
    ]) {
      const started = performance.now();
      const response = await patchAs(user, PATCH_ME, body, { "Content-Type": "application/json" });
      expect(performance.now() - started).toBeLessThan(1000);
      expect([413, 422]).toContain(response.status);
      expect(((await response.json()) as ErrorBody).code).toMatch(/^(payload_too_large|validation_error)$/);
    }
    await expectUnchanged(user);
  });

  it("case 32: a method a route does not serve is 405 JSON; a preflight from an unlisted origin gets no ACAO", async () => {
    const target = await victim();
    for (const [method, path] of [
      ["PUT", PATCH_ME],
      ["POST", PATCH_ME],
      ["DELETE", ME],
      ["DELETE", `/api/v1/uploads/${target.upload.id}`],
    ]) {
      const response = await call(path as string, {
        method,
        token: target.token,
        json: { uploadId: target.upload.id },
      });
      expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
      await expectError(response, 405, "method_not_allowed");
    }
    const preflight = await call(PATCH_ME, {
      method: "OPTIONS",
      headers: { Origin: "https://evil.example", "Access-Control-Request-Method": "PATCH" },
    });
    expect(preflight.headers.get("Access-Control-Allow-Origin")).toBeNull();
    await expectUnchanged(target.user, target.upload);
  });
});

describe("Responses", () => {
  it('case 33: {"uploadId": null} twice is 200 both times, with the same state', async () => {
    const user = await createUser();
    const [first, second] = [
      await patchAs(user, PATCH_ME, { uploadId: null }),
      await patchAs(user, PATCH_ME, { uploadId: null }),
    ];
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(await json(second)).toEqual(await json(first));
    await expectUnchanged(user);
  });

  it("case 34: the URL's host is the R2 endpoint, its key the upload's thumbnail, X-Amz-Expires within policy, only host signed", async () => {
    const user = await createUser();
    const upload = await createUpload(user);
    const response = await patchAs(user, PATCH_ME, { uploadId: upload.id });
    expect(response.status).toBe(200);
    const url = new URL((await json<{ profilePictureUrl: string }>(response)).profilePictureUrl);
    expect(url.origin).toBe("https://testaccount.r2.cloudflarestorage.com");
    expect(url.pathname).toBe(`/profile-pictures/${thumbKeyFor(upload.id)}`);
    expect(Number(url.searchParams.get("X-Amz-Expires"))).toBe(3600);
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("host");
    // The six SigV4 query parameters and nothing else.
    const params = [...url.searchParams.keys()].sort().join(" ");
    expect(params).toBe(
      "X-Amz-Algorithm X-Amz-Credential X-Amz-Date X-Amz-Expires X-Amz-Signature X-Amz-SignedHeaders",
    );
  });

  it("case 35: user data carries no-store and nosniff; no Set-Cookie, no X-Powered-By", async () => {
    const user = await createUser();
    const token = await signToken({ sub: user.workosUserId });
    for (const response of [
      await call(ME, { token }),
      await call(sharedUser(user.id), { token }),
      await patchAs(user, PATCH_ME, { uploadId: null }),
      await call(ME),
    ]) {
      expect(response.headers.get("Cache-Control")).toBe("no-store");
      expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
      expect(response.headers.get("Set-Cookie")).toBeNull();
      expect(response.headers.get("X-Powered-By")).toBeNull();
    }
  });

  it("case 36: no secret, token or presigned signature in any response body but the URL itself, nor in any log", async () => {
    const logs = captureLogs();
    const user = await createUser();
    const token = await signToken({ sub: user.workosUserId });
    const forged = await signToken({ sub: user.workosUserId }, { key: attackerKeys.privateKey });
    const bodies: string[] = [];
    const keep = async (response: Response) => {
      bodies.push(await response.clone().text());
      return response;
    };

    const started = await startUpload(token, { contentType: "image/png", size: images.png.byteLength });
    bodies.push(JSON.stringify(started));
    expect((await keep(await putObject(started.uploadUrl, images.png, started.uploadHeaders))).status).toBe(
      200,
    );
    const completed = await json<{ thumbUrl: string }>(
      await keep(await completeUpload(token, started.upload.id)),
    );
    expect((await keep(await call(completed.thumbUrl, { env: emulated }))).status).toBe(200);
    const patched = await keep(
      await call(PATCH_ME, { method: "PATCH", token, json: { uploadId: started.upload.id }, env: emulated }),
    );
    const profile = await json<{ profilePictureUrl: string }>(patched);
    expect((await keep(await call(ME, { token: forged }))).status).toBe(401);
    const event = JSON.stringify(workosEvent("user.created", workosUserObject(newWorkOSUserId())));
    const badSignature = await signWebhook(event, { secret: "whsec_not_ours" });
    expect((await keep(await deliverWebhook(event, { signature: badSignature }))).status).toBe(401);
    expect((await keep(await call(ME, { token, env: { DB: {} } }))).status).toBe(500);

    const signatures = [started.uploadUrl, completed.thumbUrl, profile.profilePictureUrl].map(
      (url) => new URL(url).searchParams.get("X-Amz-Signature") as string,
    );
    expect(signatures.every((s) => /^[0-9a-f]{64}$/.test(s))).toBe(true);
    expect(logs.length).toBeGreaterThan(8);
    const logText = logs.join("\n");
    for (const secret of [token, forged, R2_SECRET, WORKOS_API_KEY, WEBHOOK_SECRET, ...signatures]) {
      expect(logText).not.toContain(secret);
    }
    const bodyText = bodies.join("\n");
    for (const secret of [token, forged, R2_SECRET, WORKOS_API_KEY, WEBHOOK_SECRET]) {
      expect(bodyText).not.toContain(secret);
    }
    for (const signature of signatures) {
      expect(bodyText.split(signature).length).toBe(bodyText.split(`X-Amz-Signature=${signature}`).length);
    }
  });

  it("case 37: a presigned URL with its key, expiry or date edited is 403; used after expiry it is 403", async () => {
    const user = await createUser();
    const token = await signToken({ sub: user.workosUserId });
    const started = await startUpload(token, { contentType: "image/png", size: images.png.byteLength });
    const key = originalKeyFor(started.upload.id);
    const otherKey = originalKeyFor(crypto.randomUUID());
    const signedAt = Math.floor(Date.now() / 1000);
    const edits: ((url: URL) => void)[] = [
      (url) => (url.pathname = url.pathname.replace(key, otherKey)),
      (url) => url.searchParams.set("X-Amz-Expires", "604800"),
      (url) => url.searchParams.set("X-Amz-Date", amzDate(signedAt - 60)),
    ];
    const put = (url: string) => putObject(url, images.png, started.uploadHeaders);
    for (const edit of edits) {
      const url = new URL(started.uploadUrl);
      edit(url);
      expect((await put(url.toString())).status).toBe(403);
    }
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + (UPLOAD_URL_TTL_SECONDS + 120) * 1000);
    expect((await put(started.uploadUrl)).status).toBe(403);
    expect(await env.BUCKET.head(key)).toBeNull();
    expect(await env.BUCKET.head(otherKey)).toBeNull();
    expect((await readUpload(started.upload.id))?.state).toBe("pending");
  });
});

describe("Concurrency and faults", () => {
  it("case 38: an upload made not ready or deleted between check and write is never attached", async () => {
    const user = await createUser();
    const changes = [
      "UPDATE uploads SET state = 'pending'",
      "UPDATE uploads SET state = 'failed'",
      "DELETE FROM uploads",
    ];
    for (const change of changes) {
      const upload = await createUpload(user);
      const update = () => env.DB.prepare(`${change} WHERE id = ?`).bind(upload.id).run();
      const d1 = changedBefore(env.DB, /^update "users"/i, update);
      const response = await call(PATCH_ME, {
        method: "PATCH",
        token: await signToken({ sub: user.workosUserId }),
        json: { uploadId: upload.id },
        env: { DB: d1 },
      });
      const body = await response.json();
      expect(response.status, JSON.stringify(body)).toBeOneOf([404, 409]);
      await expectUnchanged(user);
    }
  });

  it("case 39: of many concurrent PATCHes the final state is one of them, every response consistent", async () => {
    const user = await createUser();
    const [a, b] = [await createUpload(user), await createUpload(user)];
    const sent = Array.from({ length: 15 }, (_, i) => [a.id, b.id, null][i % 3] ?? null);
    const responses = await Promise.all(sent.map((uploadId) => patchAs(user, PATCH_ME, { uploadId })));
    for (const [i, response] of responses.entries()) {
      expect(response.status).toBe(200);
      const profile = await json<{ profilePictureUrl: string | null; hasCustomProfilePicture: boolean }>(
        response,
      );
      const uploadId = sent[i];
      expect(profile.hasCustomProfilePicture).toBe(uploadId !== null);
      if (uploadId) expect(profile.profilePictureUrl).toContain(`/${thumbKeyFor(uploadId)}?`);
      else expect(profile.profilePictureUrl).toBe(user.workosProfilePictureUrl);
    }
    const final = (await readUser(user.id))?.profilePictureUploadId ?? null;
    expect([a.id, b.id, null]).toContain(final);
    const me = await json(await call(ME, { token: await signToken({ sub: user.workosUserId }) }));
    expect(me.hasCustomProfilePicture).toBe(final !== null);
  });

  it("case 40: two first requests of a new user at once make one user row", async () => {
    const sub = newWorkOSUserId();
    mockWorkOS({ [`${WORKOS_API_URL}/user_management/users/`]: () => Response.json(workosUserObject(sub)) });
    const token = await signToken({ sub, org_id: "org_acme" });
    const responses = await Promise.all([call(ME, { token }), call(ME, { token })]);
    expect(responses.map((r) => r.status)).toEqual([200, 200]);
    const [first, second] = await Promise.all(responses.map((r) => json(r)));
    expect(second?.id).toBe(first?.id);
    expect(await db().select().from(users).where(eq(users.workosUserId, sub)).all()).toHaveLength(1);
  });

  it("case 41: a transient D1 error on an idempotent write is retried, or 503; never half-written", async () => {
    const lost = "D1_ERROR: Network connection lost.";
    const update = /^update "users"/i;
    const outcomes = [
      { fault: { sql: update, message: lost, times: 2 }, status: 200 },
      { fault: { sql: update, message: lost, times: 1, when: "after" as const }, status: 200 },
      { fault: { sql: update, message: lost, times: 99 }, status: 503 },
    ];
    for (const { fault, status } of outcomes) {
      const target = await victim();
      const faulty = faultyD1(env.DB, [fault]);
      const { response } = await attemptPatch(target, bearer(target.token), { DB: faulty.db });
      const row = await readUser(target.user.id);
      if (status === 200) {
        expect(response.status).toBe(200);
        expect(row?.profilePictureUploadId).toBe(target.upload.id);
      } else {
        await expectError(response, 503, "unavailable");
        expect(faulty.attempts[0]).toBe(3);
        expect(row).toEqual(target.user);
      }
      await expectUnchanged(target.upload);
    }
  });

  it("case 42: D1 overload or timeout is 503 with Retry-After, without a retry loop", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    for (const message of ["D1 DB is overloaded. Too many requests queued.", "D1_ERROR: Query timed out."]) {
      const target = await victim();
      const faulty = faultyD1(env.DB, [{ sql: /^update "users"/i, message, times: 99 }]);
      const { response } = await attemptPatch(target, bearer(target.token), { DB: faulty.db });
      await expectError(response, 503, "unavailable");
      expect(faulty.attempts[0]).toBe(1);
      await expectUnchanged(target.user, target.upload);
    }
  });

  it("case 43: missing R2 credentials give a clean 5xx naming nothing secret, and nothing is written", async () => {
    const logs = captureLogs();
    const target = await victim();
    const broken = { ...emulated, R2_SECRET_ACCESS_KEY: "" };
    const requests: [string, CallOptions][] = [
      ["/api/v1/uploads", { method: "POST", json: NEW_UPLOAD }],
      [PATCH_ME, { method: "PATCH", json: { uploadId: target.upload.id } }],
    ];
    for (const [path, options] of requests) {
      const response = await call(path, { ...options, token: target.token, env: broken });
      expect(response.status).toBeGreaterThanOrEqual(500);
      const text = await response.clone().text();
      expect(text).not.toMatch(/R2_|secret|access.key/i);
      await expectError(
        response,
        response.status,
        response.status === 503 ? "unavailable" : "internal_error",
      );
    }
    expect(await countUploads(target.user.id)).toBe(1);
    await expectUnchanged(target.user, target.upload);
    expect(logs.join("\n")).toContain("R2_SECRET_ACCESS_KEY");
  });

  it("case 44: over the rate limit is 429 with Retry-After, unchanged", async () => {
    // A fresh user: the tight limiter allows 3 writes a minute per caller.
    const target = await victim();
    const tight = { WRITE_LIMITER: env.TIGHT_LIMITER };
    const write = (path: string, method: string, body: unknown) =>
      call(path, { method, token: target.token, json: body, env: tight });
    for (let i = 0; i < 3; i++) expect((await write(PATCH_ME, "PATCH", { uploadId: null })).status).toBe(200);
    await expectError(await write(PATCH_ME, "PATCH", { uploadId: target.upload.id }), 429, "rate_limited");
    await expectError(await write("/api/v1/uploads", "POST", NEW_UPLOAD), 429, "rate_limited");
    await expectUnchanged(target.user, target.upload);
    expect(await countUploads(target.user.id)).toBe(1);
  });

  it("case 45: an uncaught exception is a generic 500 JSON with the request id; the log has the details", async () => {
    const logs = captureLogs();
    const user = await createUser();
    const response = await call(ME, {
      token: await signToken({ sub: user.workosUserId }),
      headers: { "X-Request-Id": "req-case-45" },
      env: { DB: {} },
    });
    expect(response.headers.get("X-Request-Id")).toBe("req-case-45");
    const text = await response.clone().text();
    expect(await expectError(response, 500, "internal_error")).toEqual({
      detail: "Internal server error.",
      code: "internal_error",
    });
    expect(text).not.toMatch(/prepare|TypeError|at |\.ts/);
    const logged = logs.find((line) => line.includes("unhandled error"));
    expect(logged).toContain("req-case-45");
    expect(logged).toMatch(/prepare/);
  });

  it("case 46: a webhook with a bad or stale signature is 401, a replay changes nothing", async () => {
    const id = newWorkOSUserId();
    const event = workosEvent("user.created", workosUserObject(id));
    for (const options of [
      { secret: "whsec_not_ours" },
      { timestamp: Date.now() - 181_000 },
      { signature: "t=1, v1=00" },
      { signature: null },
    ]) {
      await expectError(await deliverWebhook(event, options), 401, "unauthenticated");
    }
    expect(await db().query.users.findFirst({ where: eq(users.workosUserId, id) })).toBeUndefined();
    expect(
      await db().query.webhookEvents.findFirst({ where: eq(webhookEvents.id, event.id) }),
    ).toBeUndefined();

    const user = await createUser();
    const update = workosEvent(
      "user.updated",
      workosUserObject(user.workosUserId, { first_name: "First", updated_at: new Date().toISOString() }),
    );
    expect((await deliverWebhook(update)).status).toBe(200);
    // Change the row behind WorkOS's back: only the event id can stop the replay.
    await db()
      .update(users)
      .set({ firstName: "Local", workosUpdatedAt: new Date(0) })
      .where(eq(users.id, user.id));
    const before = (await readUser(user.id)) as User;
    expect((await deliverWebhook(update)).status).toBe(200);
    await expectUnchanged(before);
  });
});
