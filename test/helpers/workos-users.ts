import type { User } from "../../src/db/schema";
import { call } from "./api";

export const WEBHOOK_SECRET = "whsec_test_secret";
export const WORKOS_API_KEY = "sk_test_workos_api_key";

/** A fresh WorkOS user id, unique per test. */
export const newWorkOSUserId = () => `user_${crypto.randomUUID().replaceAll("-", "").toUpperCase()}`;

/** A WorkOS user object as the API and `user.*` events carry it. */
export function workosUserObject(id: string, overrides: Record<string, unknown> = {}) {
  return {
    object: "user",
    id,
    email: `${id.toLowerCase()}@example.com`,
    email_verified: true,
    first_name: "Grace",
    last_name: "Hopper",
    profile_picture_url: `https://workoscdn.com/images/${id}.png`,
    last_sign_in_at: "2026-11-20T08:00:00.000Z",
    created_at: "2026-01-02T03:04:05.000Z",
    updated_at: "2026-11-20T08:00:00.000Z",
    external_id: null,
    metadata: {},
    ...overrides,
  };
}

/** The `WorkOS-Signature` header for `body`: HMAC-SHA256 over `${t}.${body}`, `t` in unix ms. */
export async function signWebhook(
  body: string | Uint8Array,
  options: { timestamp?: number; secret?: string } = {},
): Promise<string> {
  const t = String(options.timestamp ?? Date.now());
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(options.secret ?? WEBHOOK_SECRET),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const mac = await crypto.subtle.sign(
    "HMAC",
    key,
    new Uint8Array([...new TextEncoder().encode(`${t}.`), ...bytes]),
  );
  const hex = [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `t=${t}, v1=${hex}`;
}

/** A WorkOS event as webhooks deliver it, with a fresh event id. */
export function workosEvent(
  event: string,
  data: Record<string, unknown>,
  overrides: Record<string, unknown> = {},
) {
  return {
    object: "event",
    id: `event_${crypto.randomUUID().replaceAll("-", "")}`,
    event,
    data,
    created_at: new Date().toISOString(),
    ...overrides,
  };
}

/** A WorkOS organization membership object, as organization_membership.* events carry it: `user` an active member of `organizationId`. */
export function workosMembershipObject(
  user: User,
  organizationId: string,
  overrides: Record<string, unknown> = {},
) {
  return {
    object: "organization_membership",
    id: `om_${crypto.randomUUID().replaceAll("-", "")}`,
    user_id: user.workosUserId,
    organization_id: organizationId,
    organization_name: "Acme",
    role: { slug: "member" },
    roles: [{ slug: "member" }],
    status: "active",
    directory_managed: false,
    created_at: "2026-11-21T10:00:00.000Z",
    updated_at: "2026-11-21T10:00:00.000Z",
    ...overrides,
  };
}

/** An `organization_membership.{type}` event about `user` in `organizationId`. */
export const membershipEvent = (
  type: "created" | "updated" | "deleted",
  user: User,
  organizationId: string,
  overrides: Record<string, unknown> = {},
) => workosEvent(`organization_membership.${type}`, workosMembershipObject(user, organizationId, overrides));

export interface DeliverOptions {
  /** The header to send; `null` sends none; by default a valid signature of the body. */
  signature?: string | null;
  timestamp?: number;
  secret?: string;
}

/** `POST /webhooks/workos` with `body`, signed unless told otherwise. */
export async function deliverWebhook(body: unknown, options: DeliverOptions = {}) {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  const signature = options.signature === undefined ? await signWebhook(text, options) : options.signature;
  if (signature !== null) headers["WorkOS-Signature"] = signature;
  return call("/webhooks/workos", { method: "POST", body: text, headers });
}
