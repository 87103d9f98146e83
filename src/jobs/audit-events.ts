import { forgetSettled, takeOverdue } from "../audit/outbox";
import { createDb } from "../db/client";
import { D1Session } from "../lib/d1";
import { type AuditEventMessage, jobQueue } from "./messages";

export interface AuditEventLimits {
  /** Events read per statement, */
  batchSize: number;
  /** and at most this many sent again per run. */
  maxResends: number;
  /** Settled events forgotten per statement, and at most this many statements a run. */
  forgetBatchSize: number;
  maxForgetRounds: number;
}

/**
 * 5,000 events sent again and 20,000 forgotten an hour, some 90 subrequests: far more than people
 * change photos, so a backlog left by an outage drains within hours.
 */
export const AUDIT_EVENT_LIMITS: AuditEventLimits = {
  batchSize: 500,
  maxResends: 5000,
  forgetBatchSize: 1000,
  maxForgetRounds: 20,
};

/**
 * An event is sent again once it is this overdue: long enough for the request's own enqueue (or the
 * queue's retry) to have been delivered, short enough that an enqueue that failed waits one run.
 */
export const AUDIT_RESEND_GRACE_MS = 10 * 60 * 1000;

/** How long a settled event is kept: WorkOS has it (or refused it, and the log said why) by then. */
export const AUDIT_EVENT_RETENTION_MS = 3 * 24 * 60 * 60 * 1000;

/**
 * The audit outbox's hourly work: send again the pending events nobody is about to send (an enqueue
 * that failed, a consumer that died, tries that ran out during a WorkOS outage), oldest due first,
 * and forget the settled ones after `AUDIT_EVENT_RETENTION_MS`. Each statement reads only the rows
 * it acts on (the partial indexes of `audit_events`), however long the log is.
 */
export async function resendAuditEvents(
  env: Env,
  now: Date,
  limits: Partial<AuditEventLimits> = {},
): Promise<{ resent: number; forgotten: number }> {
  const { batchSize, maxResends, forgetBatchSize, maxForgetRounds } = { ...AUDIT_EVENT_LIMITS, ...limits };
  const d1 = new D1Session(env.DB, "first-primary");
  const db = createDb(d1.client);
  const queue = jobQueue(env.JOBS, null);
  const overdue = new Date(now.getTime() - AUDIT_RESEND_GRACE_MS);
  let resent = 0;
  while (resent < maxResends) {
    const ids = await takeOverdue(db, overdue, Math.min(batchSize, maxResends - resent), now);
    await queue.send(ids.map((id): AuditEventMessage => ({ type: "audit_event", id })));
    resent += ids.length;
    if (ids.length < batchSize) break;
  }
  let forgotten = 0;
  const settledBefore = new Date(now.getTime() - AUDIT_EVENT_RETENTION_MS);
  for (let round = 0; round < maxForgetRounds; round++) {
    const count = await forgetSettled(db, settledBefore, forgetBatchSize);
    forgotten += count;
    if (count < forgetBatchSize) break;
  }
  console.log(
    JSON.stringify({
      level: "info",
      msg: "audit events",
      resent,
      forgotten,
      d1RoundTrips: d1.roundTrips,
    }),
  );
  return { resent, forgotten };
}
