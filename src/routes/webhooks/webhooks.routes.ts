import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses } from "../../lib/errors/openapi";
import { WorkOSEvent } from "./workos-events";

/** Largest event body accepted; WorkOS events are a few KB. */
export const MAX_WEBHOOK_BODY_BYTES = 256 * 1024;

/**
 * The contract of `POST /webhooks/workos`, for `/openapi.json`. The handler reads and verifies
 * the raw body itself (the signature covers the exact bytes), so this route is registered for the
 * docs only and no generated validator ever parses the body first.
 */
export const workosWebhook = createRoute({
  method: "post",
  path: "/webhooks/workos",
  tags: ["Webhooks"],
  summary: "Receive a WorkOS event",
  description:
    "Called by WorkOS, not by the front end: no bearer token, and errors are `400 bad_request` rather " +
    "than FastAPI-style 422s. The `WorkOS-Signature` header (`t=<unix ms>, v1=<hex>`) must be an " +
    "HMAC-SHA256 with the webhook secret over `<t>.<raw body>`, with `t` within 180 s of the " +
    "server's clock; it is checked before the body is parsed. `user.created` and `user.updated` " +
    "upsert the user; `user.deleted` takes the user out of service and detaches their custom photo, and " +
    "is remembered, so a later `user.created` brings no one back; `organization_membership.created`, " +
    "`.updated` and `.deleted` record the user's membership of an organization (only status `active` " +
    "makes them a teammate there); `session.created` records the sign-in time; other events are " +
    "acknowledged and ignored. A delivered event id is remembered: redelivery, or an event older than " +
    "what is stored (by `updated_at`), changes nothing. " +
    `Bodies over ${MAX_WEBHOOK_BODY_BYTES / 1024} KB are refused (413) before anything else; ` +
    "deliveries are rate limited per client IP (429). WorkOS retries a delivery that failed.",
  request: {
    headers: z.object({
      "workos-signature": z.string().openapi({ example: "t=1700000000000, v1=5257a869e7ec..." }),
    }),
    body: { required: true, content: { "application/json": { schema: WorkOSEvent } } },
  },
  responses: {
    200: {
      description: "Received (applied, already applied, or ignored)",
      content: { "application/json": { schema: z.object({ received: z.literal(true) }) } },
    },
    ...errorResponses(["bad_request", "unauthenticated", "payload_too_large", "rate_limited", "unavailable"]),
  },
});
