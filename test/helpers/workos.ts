import { type MockInstance, vi } from "vitest";
import { publicJwks } from "./tokens";

export const JWKS_URL = "https://api.workos.com/sso/jwks/client_test";
export const WORKOS_API_URL = "https://workos-api.test";

/** A JWKS URL no other test has used: the isolate-wide key cache starts empty for it. */
export const freshJwksUrl = () => `https://jwks.test/${crypto.randomUUID()}`;

type Responder = (request: Request) => Response | Promise<Response>;

export interface WorkOSMock {
  /** Every outbound request the worker made, in order. */
  requests: Request[];
  /** How many requests went to `url` (prefix match). */
  count(urlPrefix: string): number;
  spy: MockInstance<typeof fetch>;
}

/**
 * Stub the worker's outbound `fetch` (the WorkOS boundary): the JWKS at `JWKS_URL` serves the
 * trusted test key unless `routes` answers it differently; anything unrouted is a 599 so an
 * unexpected call fails loudly instead of reaching the network.
 */
export function mockWorkOS(routes: Record<string, Responder> = {}): WorkOSMock {
  const requests: Request[] = [];
  const table: Record<string, Responder> = { [JWKS_URL]: () => Response.json(publicJwks), ...routes };
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const request = new Request(input as RequestInfo, init);
    requests.push(request);
    const match = Object.keys(table)
      .filter((prefix) => request.url.startsWith(prefix))
      .sort((a, b) => b.length - a.length)[0];
    if (match === undefined) return new Response(`unexpected request to ${request.url}`, { status: 599 });
    return (table[match] as Responder)(request);
  });
  return {
    requests,
    count: (urlPrefix) => requests.filter((r) => r.url.startsWith(urlPrefix)).length,
    spy,
  };
}
