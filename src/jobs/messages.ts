import { z } from "zod";

/**
 * The messages the background queue carries, one type per job: small (ids and a URL, never bytes),
 * and enough for the consumer to find the work again in D1, where it checks whether it is still to
 * do. Every consumer is idempotent, so a message delivered twice, late or out of order is no news.
 */
export const ImportPictureMessage = z.object({
  type: z.literal("import_picture"),
  /** The user, by WorkOS id: what the provisioning, the webhook and the hourly job all have. */
  workosUserId: z.string().min(1).max(255),
  /** The WorkOS picture URL to import; the consumer does nothing once the user's URL is another. */
  url: z.string().min(1).max(2048),
});

/** Deliver a change's event to the organization's WorkOS audit log; the row (`audit_events`) has it all. */
export const AuditEventMessage = z.object({
  type: z.literal("audit_event"),
  /** The event's id (the change's write id), its `Idempotency-Key` too. */
  id: z.uuid(),
});

export const JobMessage = z.discriminatedUnion("type", [ImportPictureMessage, AuditEventMessage]);
export type JobMessage = z.output<typeof JobMessage>;
export type ImportPictureMessage = z.output<typeof ImportPictureMessage>;
export type AuditEventMessage = z.output<typeof AuditEventMessage>;

/** What a job is about, for its log lines: ids only. */
export function subjectOf(job: JobMessage): Record<string, string> {
  switch (job.type) {
    case "import_picture":
      return { workosUserId: job.workosUserId };
    case "audit_event":
      return { auditEventId: job.id };
  }
}

/**
 * What the consumer puts in the dead-letter queue when it gives a message up: the message, why, and
 * after how many attempts. A message the platform moved there itself (the consumer crashed on every
 * attempt) arrives bare, without a reason.
 */
export const DeadLetter = z.object({
  message: JobMessage,
  reason: z.string().max(1000),
  attempts: z.number().int().nonnegative(),
  /** `permanent`: refused for good at once; `exhausted`: transient failures until no retry was left. */
  kind: z.enum(["permanent", "exhausted"]),
});
export type DeadLetter = z.output<typeof DeadLetter>;

/** What a request or a job enqueues with: sending never fails the caller (see `jobQueue`). */
export interface JobQueue {
  send(messages: readonly JobMessage[]): Promise<void>;
}

/** Queues accept at most 100 messages per `sendBatch`. @see https://developers.cloudflare.com/queues/platform/limits/ */
export const SEND_BATCH_MAX_MESSAGES = 100;

/**
 * The queue as a request uses it. A send that fails is logged and swallowed: the change that called
 * for the job stands (it is already in D1), and the hourly job enqueues what D1 shows is still to do.
 */
export function jobQueue(queue: Queue<JobMessage>, requestId: string | null): JobQueue {
  return {
    async send(messages) {
      for (let i = 0; i < messages.length; i += SEND_BATCH_MAX_MESSAGES) {
        const chunk = messages.slice(i, i + SEND_BATCH_MAX_MESSAGES);
        try {
          await queue.sendBatch(chunk.map((body) => ({ body })));
        } catch (error) {
          console.error(
            JSON.stringify({
              level: "error",
              msg: "jobs not enqueued; the hourly job will enqueue them",
              requestId,
              types: [...new Set(chunk.map((message) => message.type))],
              count: chunk.length,
              error: error instanceof Error ? error.message : String(error),
            }),
          );
        }
      }
    },
  };
}
