import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { inject } from "vitest";
import { devToken } from "../../scripts/dev-keys.mjs";
import { type StubUser, workosUser } from "./workos-stub";

export const stack = inject("stack");

export interface Person {
  /** The WorkOS user id (the token's `sub`). */
  sub: string;
  /** The service's user id. */
  id: string;
  token: string;
  firstName: string;
  lastName: string;
  /** The picture WorkOS has for them, served by the WorkOS stand-in (the API's `profilePictureUrl`). */
  workosPictureUrl: string;
  /**
   * What the page draws for them before they set a photo, in the page's size: their WorkOS picture
   * imported (`signUp` waits for the import), or initials when they have none or it cannot be imported.
   */
  avatarUrl: string;
}

export interface Profile {
  id: string;
  profilePictureUrl: string | null;
  hasCustomProfilePicture: boolean;
  avatarUrl: string;
  avatarSource: "custom" | "identity_provider" | "initials";
}

/**
 * The thumbnail size the page asks for on the tests' screens (1x, unless a test says otherwise): the
 * one its 128 px photo needs (main.js).
 */
export const PAGE_PICTURE_SIZE = 128;

/** `GET /api/v1/users/me` as the page asks for it, to compare with what the page shows. */
export const ME_AS_THE_PAGE_ASKS = `/api/v1/users/me?pictureSize=${PAGE_PICTURE_SIZE}`;

/** Call the API as a client other than the page (to set the scene or read back what the page did). */
export async function api<T>(token: string, method: string, path: string, json?: unknown): Promise<T> {
  const response = await fetch(`${stack.apiOrigin}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(json === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: json === undefined ? null : JSON.stringify(json),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/**
 * A new WorkOS user, signed in: known to the WorkOS stand-in, holding a dev token for `org` with
 * `role`, and provisioned by the service (just in time, by a first `GET /users/me`). A user with a
 * WorkOS picture is answered once the queue has imported it, so the scene is the same every run.
 */
export async function signUp(options: {
  firstName: string;
  lastName: string;
  org: string;
  role?: "admin" | "member";
  workosPicture?: StubUser["picture"];
}): Promise<Person> {
  const sub = `user_${randomUUID().replaceAll("-", "").toUpperCase()}`;
  const { firstName, lastName } = options;
  const registered = await fetch(`${stack.workosOrigin}/test/users`, {
    method: "POST",
    body: JSON.stringify({ id: sub, firstName, lastName, picture: options.workosPicture } satisfies StubUser),
  });
  if (registered.status !== 204) throw new Error(`the WorkOS stand-in answered ${registered.status}`);
  const token = await devToken({ sub, org: options.org, role: options.role ?? "member", dir: stack.keyDir });
  let me = await api<Profile>(token, "GET", ME_AS_THE_PAGE_ASKS);
  const imported = (options.workosPicture ?? "served") === "served";
  for (let waited = 0; imported && me.avatarSource !== "identity_provider"; waited += 200) {
    if (waited > 30_000) throw new Error(`${firstName}'s WorkOS picture was not imported in 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    me = await api<Profile>(token, "GET", ME_AS_THE_PAGE_ASKS);
  }
  return {
    sub,
    id: me.id,
    token,
    firstName,
    lastName,
    workosPictureUrl: `${stack.workosOrigin}/pictures/${encodeURIComponent(sub)}.png`,
    avatarUrl: me.avatarUrl,
  };
}

/** Deliver a WorkOS event to the worker's webhook, signed as WorkOS signs them. */
async function sendWorkOSEvent(event: string, data: Record<string, unknown>): Promise<void> {
  const body = JSON.stringify({
    object: "event",
    id: `event_${randomUUID()}`,
    event,
    data,
    created_at: new Date().toISOString(),
  });
  const timestamp = Date.now();
  const signature = createHmac("sha256", stack.webhookSecret).update(`${timestamp}.${body}`).digest("hex");
  const response = await fetch(`${stack.apiOrigin}/webhooks/workos`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "WorkOS-Signature": `t=${timestamp}, v1=${signature}` },
    body,
  });
  if (!response.ok) throw new Error(`the webhook answered ${response.status} ${await response.text()}`);
}

/** WorkOS says `person` left `org`: from now on they are no one's teammate there. */
export async function removeFromOrganization(person: Person, org: string): Promise<void> {
  const now = new Date().toISOString();
  await sendWorkOSEvent("organization_membership.deleted", {
    object: "organization_membership",
    id: `om_${randomUUID()}`,
    user_id: person.sub,
    organization_id: org,
    role: { slug: "member" },
    status: "active",
    created_at: now,
    updated_at: now,
  });
}

/** WorkOS says `person` changed their last name. */
export async function renameInWorkOS(person: Person, lastName: string): Promise<void> {
  const renamed = { id: person.sub, firstName: person.firstName, lastName };
  await sendWorkOSEvent("user.updated", workosUser(renamed, stack.workosOrigin));
}

export const newOrganization = () => `org_${randomUUID().replaceAll("-", "").toUpperCase()}`;

/** The page's address with the token in its fragment, as `npm run dev` prints it. */
export const pageUrl = (person: Person) => `${stack.pageOrigin}/profile#token=${person.token}`;

/** The worker's request log lines (one JSON object a request) since the stack started. */
export function requestLog(): { method: string; route: string; status: number }[] {
  return readFileSync(stack.logFile, "utf8")
    .split("\n")
    .filter((line) => line.startsWith('{"level":"info","requestId"'))
    .map((line) => JSON.parse(line));
}
