import { z } from "@hono/zod-openapi";
import type { Config } from "../lib/config";

/** A WorkOS API request that has not answered by then counts as an outage. */
export const WORKOS_API_TIMEOUT_MS = 3_000;

const isoDateTime = z.iso.datetime({ offset: true }).transform((value) => new Date(value));

/**
 * The WorkOS user object, as `GET /user_management/users/{id}` returns it and as webhook events
 * carry it in `data`. Only the fields we store are checked; unknown fields are ignored.
 * @see https://workos.com/docs/reference/user-management/user
 */
export const WorkOSUser = z
  .object({
    id: z.string().min(1).max(255),
    email: z.string().min(1).max(320),
    email_verified: z.boolean(),
    first_name: z.string().max(1000).nullish(),
    last_name: z.string().max(1000).nullish(),
    // Shown to browsers as an image URL: anything but an http(s) URL is dropped rather than stored.
    profile_picture_url: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .nullish()
      .catch(null),
    last_sign_in_at: isoDateTime.nullish(),
    created_at: isoDateTime,
    updated_at: isoDateTime,
  })
  .openapi("WorkOSUser");

export type WorkOSUser = z.output<typeof WorkOSUser>;

/** WorkOS could not give a usable answer (down, slow, redirected, garbage): the caller answers 503. */
export class WorkOSUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`WorkOS API unavailable: ${reason}`);
    this.name = "WorkOSUnavailableError";
  }
}

/**
 * A request to the WorkOS API at `path`, with the API key. Redirects are not followed (the key would
 * go with them) and an answer slower than `timeoutMs` is given up; no answer at all throws
 * `WorkOSUnavailableError` ("timed out" or "request failed"). What the status means is the caller's.
 */
export async function callWorkOS(
  config: Config,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string },
  timeoutMs = WORKOS_API_TIMEOUT_MS,
): Promise<Response> {
  try {
    return await fetch(`${config.workos.apiUrl}${path}`, {
      ...init,
      headers: { ...init.headers, authorization: `Bearer ${config.workos.apiKey}` },
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const reason = error instanceof Error && error.name === "TimeoutError" ? "timed out" : "request failed";
    throw new WorkOSUnavailableError(reason);
  }
}

/**
 * Fetch a user from the WorkOS API. `null` when WorkOS says the user does not exist (404); any
 * other failure throws `WorkOSUnavailableError`. The answer must be the user that was asked for.
 */
export async function fetchWorkOSUser(config: Config, workosUserId: string): Promise<WorkOSUser | null> {
  const response = await callWorkOS(config, `/user_management/users/${encodeURIComponent(workosUserId)}`, {
    headers: { accept: "application/json" },
  });
  if (response.status === 404) {
    await response.body?.cancel();
    return null;
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new WorkOSUnavailableError(`answered ${response.status}`);
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new WorkOSUnavailableError("answered with something that is not JSON");
  }
  const parsed = WorkOSUser.safeParse(body);
  if (!parsed.success || parsed.data.id !== workosUserId) {
    throw new WorkOSUnavailableError("answered with something that is not the user asked for");
  }
  return parsed.data;
}
