import type { Database } from "../db/client";
import type { AuditEvent } from "../db/schema";
import { callWorkOS, WorkOSUnavailableError } from "../identity/workos-api";
import type { Config } from "../lib/config";
import { JobFailure, retryAfterSeconds } from "../lib/job-failure";
import { AUDIT_SCHEMA_VERSION, type ProfilePictureAuditMetadata } from "./action-schemas";
import { markDelivered, markRefused, pendingAuditEvent } from "./outbox";

/** A WorkOS audit-log request that has not answered by then is tried again later. */
const AUDIT_DELIVERY_TIMEOUT_MS = 10_000;

/** How much of WorkOS's reason for a refusal is kept and logged. */
const MAX_REFUSAL_LENGTH = 1000;

/**
 * The body of `POST /audit_logs/events` for one event, as the contract writes it.
 * @see https://workos.com/docs/reference/audit-logs/create-event
 */
function workosAuditEventBody(event: AuditEvent, names: { actorName: string; targetName: string }) {
  return {
    organization_id: event.organizationId,
    event: {
      action: event.action,
      occurred_at: event.occurredAt.toISOString(),
      version: AUDIT_SCHEMA_VERSION,
      actor: { type: "user", id: event.actorWorkosUserId, name: names.actorName },
      targets: [{ type: "user", id: event.targetWorkosUserId, name: names.targetName }],
      context: {
        location: event.location,
        ...(event.userAgent === null ? {} : { user_agent: event.userAgent }),
      },
      metadata: {
        upload_id: event.uploadId ?? "",
        previous_upload_id: event.previousUploadId ?? "",
        via: event.via,
      } satisfies ProfilePictureAuditMetadata,
    },
  };
}

/**
 * The 4xx answers worth another try: `401` while an API key is being rotated (the event waits for the
 * new key rather than being refused for good), `408` and `409` (a request with the same key still in
 * flight), `429` after its `Retry-After`. Every other 4xx refuses the event for good: its body or
 * the action's schema (`400`, `422`), an organization WorkOS does not know (`404`), a key without the
 * permission (`403`).
 */
const TRANSIENT_CLIENT_ERRORS = new Set([401, 408, 409, 429]);
const isPermanent = (status: number) => status >= 400 && status < 500 && !TRANSIENT_CLIENT_ERRORS.has(status);

/**
 * Deliver one event to the organization's WorkOS audit log: the event as the outbox has it, with
 * its id as the `Idempotency-Key`, so every attempt of one change is one event to WorkOS. An event
 * no longer pending (delivered, refused, forgotten) is not sent again. Accepted: marked delivered.
 * A 4xx other than those worth another try (`isPermanent`): refused for good, recorded with WorkOS's
 * reason, and a permanent `JobFailure` (dead-lettered once). Anything else (`429`, a 5xx, a 401 while
 * a key is being rotated, no answer): a transient `JobFailure`, after `Retry-After` when WorkOS sent one; the event stays
 * pending, so when the queue's tries run out the hourly job sends it again. An outage delays
 * events and loses none.
 */
export async function deliverAuditEvent(db: Database, config: Config, id: string, now = new Date()) {
  const pending = await pendingAuditEvent(db, id);
  if (!pending) return "already settled";
  const { event, ...names } = pending;
  let response: Response;
  try {
    response = await callWorkOS(
      config,
      "/audit_logs/events",
      {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": event.id },
        body: JSON.stringify(workosAuditEventBody(event, names)),
      },
      AUDIT_DELIVERY_TIMEOUT_MS,
    );
  } catch (error) {
    if (error instanceof WorkOSUnavailableError)
      throw new JobFailure(`WorkOS audit logs: ${error.reason}`, false);
    throw error;
  }
  if (response.ok) {
    await response.body?.cancel();
    await markDelivered(db, event.id, new Date());
    return "delivered";
  }
  const reason = `WorkOS audit logs answered ${response.status}: ${await errorTextOf(response)}`;
  if (isPermanent(response.status)) {
    await markRefused(db, event.id, reason, new Date());
    throw new JobFailure(reason, true);
  }
  throw new JobFailure(reason, false, retryAfterSeconds(response.headers.get("retry-after"), now.getTime()));
}

/** WorkOS's error message (`message`, and each of `errors`), or the start of the body: never a header. */
async function errorTextOf(response: Response): Promise<string> {
  const text = (await response.text().catch(() => "")).slice(0, 10_000);
  let detail = text;
  try {
    const body = JSON.parse(text) as { message?: unknown; errors?: unknown };
    const errors = Array.isArray(body.errors) ? body.errors.map((error) => JSON.stringify(error)) : [];
    if (typeof body.message === "string") detail = [body.message, ...errors].join("; ");
  } catch {}
  return (detail.trim() || "(no body)").slice(0, MAX_REFUSAL_LENGTH);
}
