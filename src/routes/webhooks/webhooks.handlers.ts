import type { Handler } from "hono";
import { verifyWorkOSSignature } from "../../identity/webhook-signature";
import { ApiError } from "../../lib/errors/api-error";
import { readLimited } from "../../lib/limited-body";
import { clientIp, enforceLimit } from "../../lib/rate-limit";
import type { AppBindings } from "../../lib/types";
import { MAX_WEBHOOK_BODY_BYTES } from "./webhooks.routes";
import {
  importDueAfter,
  parseEvent,
  recordEvent,
  recordsItsId,
  statementsFor,
  wasProcessed,
} from "./workos-events";

// No WWW-Authenticate: a signature is not an HTTP authentication scheme a client could answer.
const badSignature = () =>
  new ApiError("unauthenticated", "The webhook signature is missing, invalid or outside the allowed window.");

/**
 * Verify, then parse, then apply. Recording the event id and applying its change are one D1
 * batch (a transaction): a redelivered id makes the insert fail and the batch roll back, so a
 * replay changes nothing even when two deliveries race. An event whose write guards itself is
 * applied without its id (`recordsItsId`): a replay's write changes nothing.
 */
export const workosWebhookHandler: Handler<AppBindings> = async (c) => {
  const { db, config } = c.var;
  await enforceLimit(c.env.IP_LIMITER, `webhook:${clientIp(c)}`);
  const signature = c.req.header("workos-signature");
  if (!signature) throw badSignature();
  const rawBody = await readLimited(c.req.raw, MAX_WEBHOOK_BODY_BYTES);
  if (!(await verifyWorkOSSignature(signature, rawBody, config.workos.webhookSecret))) throw badSignature();

  const event = parseEvent(rawBody);
  const [first, ...rest] = statementsFor(db, event);
  if (first) {
    const dueRead = importDueAfter(db, event);
    try {
      // One transaction: the id's record fails on a redelivery, and rolls the whole batch back.
      const record = recordsItsId(event) ? [recordEvent(db, event)] : [];
      const results = await db.batch([first, ...record, ...rest, ...(dueRead ? [dueRead] : [])]);
      const due = dueRead ? (results.at(-1) as Awaited<typeof dueRead>) : [];
      await c.var.jobs.send(
        due.flatMap(({ workosUserId, url }) =>
          url ? [{ type: "import_picture" as const, workosUserId, url }] : [],
        ),
      );
    } catch (error) {
      if (!recordsItsId(event) || !(await wasProcessed(db, event.id))) throw error;
    }
  }
  return c.json({ received: true as const }, 200);
};
