import { exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { JWKS_TIMEOUT_MS } from "../src/identity/key-set";
import { call } from "./helpers/api";
import { createUser } from "./helpers/db";
import { publicJwks, signToken } from "./helpers/tokens";
import { freshJwksUrl, JWKS_URL, mockWorkOS, type WorkOSMock } from "./helpers/workos";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/**
 * The JWKS fetch is shared by the requests of an isolate but belongs to the one that started it;
 * workerd cancels the I/O of a request whose client hung up, and that fetch then never settles.
 */
describe("a JWKS fetch that never settles", () => {
  const timeout = 2 * JWKS_TIMEOUT_MS + 5000;

  /**
   * With the fetch stalled and no keys cached, `get` answers 503 with a Retry-After; once the JWKS
   * is back, a request that long after answers 200, with one new fetch.
   */
  async function expectRecoveryAfterRetryAfter(
    get: () => Promise<Response>,
    workos: WorkOSMock,
    url: string,
    jwksIsBack: () => void,
  ) {
    vi.useFakeTimers({ toFake: ["Date"] });
    const stalled = await get();
    expect(stalled.status).toBe(503);
    const retryAfter = Number(stalled.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(workos.count(url)).toBe(1);

    jwksIsBack();
    vi.setSystemTime(Date.now() + retryAfter * 1000);
    expect((await get()).status).toBe(200);
    expect(workos.count(url)).toBe(2);
  }

  it("case 15: is dropped after the fetch timeout, by the request that started it too", {
    timeout,
  }, async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const url = freshJwksUrl();
    let back = false;
    // Ignores its abort signal, as a fetch whose I/O workerd cancelled does.
    const workos = mockWorkOS({
      [url]: () => (back ? Response.json(publicJwks) : new Promise<Response>(() => {})),
    });
    const user = await createUser();
    const token = await signToken({ sub: user.workosUserId });
    const get = () => call("/api/v1/users/me", { token, env: { WORKOS_JWKS_URL: url } });

    const first = get();
    await expectRecoveryAfterRetryAfter(get, workos, url, () => {
      back = true;
    });
    expect((await first).status).toBe(503);
  });

  /**
   * The first request goes through the worker's real entry point (`exports.default`, a request
   * context of its own) and its client hangs up. That entry point sees only the configured env,
   * so the default JWKS URL, whose key cache nothing else in this file (and so in this isolate)
   * fills.
   */
  it("case 15: does not stall the requests after a client hung up on the one that started it", {
    timeout,
  }, async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    let back = false;
    // A real fetch that gets no answer settles only when its signal aborts: after the hang-up,
    // workerd never fires that abort (the fetch timeout), so it never settles.
    const workos = mockWorkOS({
      [JWKS_URL]: (request) =>
        back
          ? Response.json(publicJwks)
          : new Promise<Response>((_, reject) => {
              request.signal.addEventListener("abort", () => reject(request.signal.reason));
            }),
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
    // Polled, not awaited through a promise the first request settles: a continuation of that
    // request's context is dropped with it.
    while (workos.count(JWKS_URL) === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    hangUp.abort();
    expect(await first.then(String, (error: Error) => error.name)).toBe("AbortError");

    await expectRecoveryAfterRetryAfter(
      () => call("/api/v1/users/me", { token }),
      workos,
      JWKS_URL,
      () => {
        back = true;
      },
    );
  });
});
