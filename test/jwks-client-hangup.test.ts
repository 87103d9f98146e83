import { exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { JWKS_TIMEOUT_MS } from "../src/lib/jwks";
import { call } from "./helpers/api";
import { createUser } from "./helpers/db";
import { publicJwks, signToken } from "./helpers/tokens";
import { JWKS_URL, mockWorkOS } from "./helpers/workos";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/**
 * The JWKS fetch is shared by the requests of an isolate but belongs to the one that started it.
 * This file sends that first request through the worker's real entry point (`exports.default`,
 * its own request context) and hangs up on it, as a browser closing a tab would. It has a file of
 * its own because that entry point only sees the configured env: the default JWKS URL, whose key
 * cache no other test in this file (and so in this isolate) fills.
 */
describe("a client hanging up on the request that started the JWKS fetch", () => {
  it("does not stall the requests after it: they get 503, then 200 after the announced Retry-After", {
    timeout: 2 * JWKS_TIMEOUT_MS + 5000,
  }, async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    let back = false;
    // Behaves as a real fetch that gets no answer: it settles only if its signal aborts. workerd
    // cancels the I/O of a request whose client hung up, so that abort (the fetch timeout) never
    // comes, and the fetch never settles.
    const workos = mockWorkOS({
      [JWKS_URL]: (request) => {
        if (back) return Response.json(publicJwks);
        return new Promise<Response>((_, reject) => {
          request.signal.addEventListener("abort", () => reject(request.signal.reason));
        });
      },
    });
    const user = await createUser();
    const token = await signToken({ sub: user.workosUserId });

    const hangUp = new AbortController();
    const first = exports.default.fetch(
      new Request("https://api.test/api/v1/users/me", {
        headers: { Authorization: `Bearer ${token}` },
        signal: hangUp.signal,
      }),
    );
    // Polled, not awaited through a promise the first request resolves: a continuation of that
    // request's context is dropped with it.
    while (workos.count(JWKS_URL) === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    hangUp.abort();
    expect(await first.then(String, (error: Error) => error.name)).toBe("AbortError");

    vi.useFakeTimers({ toFake: ["Date"] });
    const next = await call("/api/v1/users/me", { token });
    expect(next.status).toBe(503);
    const retryAfter = Number(next.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(workos.count(JWKS_URL)).toBe(1);

    back = true;
    vi.setSystemTime(Date.now() + retryAfter * 1000);
    expect((await call("/api/v1/users/me", { token })).status).toBe(200);
    expect(workos.count(JWKS_URL)).toBe(2);
  });
});
