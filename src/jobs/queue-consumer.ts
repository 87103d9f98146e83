import { deliverAuditEvent } from "../audit/delivery";
import { postpone } from "../audit/outbox";
import { createDb, type Database } from "../db/client";
import { loadConfig } from "../lib/config";
import { D1Session, databaseErrorText } from "../lib/d1";
import { ApiError } from "../lib/errors/api-error";
import { JobFailure } from "../lib/job-failure";
import { importPicture, recordImportRefused } from "../pictures/import-picture";
import { REMOTE_PICTURE_LIMITS } from "../pictures/remote-picture";
import { DeadLetter, JobMessage, subjectOf } from "./messages";

/**
 * How many times a message is tried before it is given up: 10 tries over about 85 minutes
 * (`retryDelaySeconds`). wrangler.toml's `max_retries` is 10 too (11 deliveries), so the consumer,
 * not the platform, gives a message up, with its reason; the platform's dead-lettering is left for a
 * consumer that fails on every delivery.
 */
export const JOB_MAX_ATTEMPTS = 10;

/** Queues delay a retry by at most 12 hours. @see https://developers.cloudflare.com/queues/configuration/batching-retries/#delay-messages */
export const MAX_RETRY_DELAY_SECONDS = 12 * 60 * 60;
const FIRST_RETRY_DELAY_SECONDS = 5;
const BACKOFF_CAP_SECONDS = 60 * 60;

/**
 * The delay before try `attempts + 1`: 5 s after the first, doubling each time up to an hour (5, 10,
 * 20 ... 2,560 s), and never sooner than a `Retry-After` the other side sent (up to Queues' 12 hours).
 */
export function retryDelaySeconds(attempts: number, retryAfterSeconds?: number): number {
  const backoff = Math.min(FIRST_RETRY_DELAY_SECONDS * 2 ** Math.max(0, attempts - 1), BACKOFF_CAP_SECONDS);
  return Math.min(Math.max(backoff, retryAfterSeconds ?? 0), MAX_RETRY_DELAY_SECONDS);
}

/** The dead-letter queue is the one whose name ends so (wrangler.toml names both queues). */
const isDeadLetterQueue = (queue: string) => queue.endsWith("-dead-letters");

/** What a job needs: the database and storage, the configuration. */
interface JobContext {
  env: Env;
  db: Database;
}

/**
 * The queue consumer: every batch of either queue. Messages are handled one after another, so an
 * invocation holds at most one picture (10 MB) at a time. Each is acknowledged when done, retried
 * with a growing delay when it failed in a way worth another try, and given up when it failed for
 * good or ran out of tries: then the job's own bookkeeping records the outcome (so nothing retries it
 * in a loop, the hourly job included) and it goes to the dead-letter queue with its reason.
 */
export async function consumeJobs(batch: MessageBatch, env: Env): Promise<void> {
  const d1 = new D1Session(env.DB, "first-primary");
  const context: JobContext = { env, db: createDb(d1.client) };
  if (isDeadLetterQueue(batch.queue)) {
    for (const message of batch.messages) await takeDeadLetter(context, message);
    return;
  }
  for (const message of batch.messages) await runJob(context, message);
}

/** A job's failure as the consumer sees it: for good or not, why, and how long the other side asked us to wait. */
interface Failure {
  permanent: boolean;
  reason: string;
  retryAfterSeconds?: number | undefined;
}

function failureOf(error: unknown): Failure {
  if (error instanceof JobFailure) {
    return { permanent: error.permanent, reason: error.reason, retryAfterSeconds: error.retryAfterSeconds };
  }
  if (error instanceof ApiError && error.code === "unavailable") {
    const retryAfter = Number(error.headers["Retry-After"]);
    return { permanent: false, reason: error.message, retryAfterSeconds: retryAfter || undefined };
  }
  // A bug or a dependency's own error: worth a few more tries; the log has what it was.
  return { permanent: false, reason: `unexpected error: ${databaseErrorText(error)}` };
}

async function runJob(context: JobContext, message: Message): Promise<void> {
  const parsed = JobMessage.safeParse(message.body);
  if (!parsed.success) {
    logJob("error", message, { outcome: "dropped", reason: "not a job message this worker knows" });
    message.ack();
    return;
  }
  const job = parsed.data;
  try {
    const outcome = await perform(context, job);
    logJob("info", message, { type: job.type, ...subjectOf(job), outcome });
    message.ack();
  } catch (error) {
    const failure = failureOf(error);
    if (!failure.permanent && message.attempts < JOB_MAX_ATTEMPTS) {
      const delaySeconds = retryDelaySeconds(message.attempts, failure.retryAfterSeconds);
      logJob("warn", message, { type: job.type, outcome: "retried", reason: failure.reason, delaySeconds });
      message.retry({ delaySeconds });
      await noteRetry(context, job, delaySeconds);
      return;
    }
    const letter: DeadLetter = {
      message: job,
      reason: failure.reason,
      attempts: message.attempts,
      kind: failure.permanent ? "permanent" : "exhausted",
    };
    try {
      await giveUp(context, job);
      await context.env.DEAD_LETTERS.send(letter);
      logJob(failure.permanent ? "warn" : "error", message, {
        type: job.type,
        outcome: "dead-lettered",
        reason: failure.reason,
        kind: letter.kind,
      });
      message.ack();
    } catch (giveUpError) {
      // Not recorded, or not dead-lettered: better tried again than lost.
      logJob("error", message, {
        type: job.type,
        outcome: "retried",
        reason: `could not give it up: ${databaseErrorText(giveUpError)}`,
      });
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}

/** Does the job; what it answers is only logged. */
async function perform({ env, db }: JobContext, job: JobMessage): Promise<string> {
  switch (job.type) {
    case "import_picture": {
      const config = loadConfig(env);
      return importPicture(
        {
          db,
          bucket: env.BUCKET,
          images: env.IMAGES,
          thumbUrlTtlSeconds: config.thumbUrlTtlSeconds,
          policy: { ...REMOTE_PICTURE_LIMITS, allowLoopbackHttp: config.environment === "development" },
        },
        job,
      );
    }
    case "audit_event":
      return deliverAuditEvent(db, loadConfig(env), job.id);
  }
}

/**
 * The bookkeeping of a job given up, so nothing tries it again: safe to repeat. An audit event is
 * never given up here: one WorkOS refused is recorded so as it is refused; one whose tries ran out
 * stays pending, for the hourly job to send again (an outage delays events and loses none).
 */
async function giveUp({ db }: JobContext, job: JobMessage): Promise<void> {
  switch (job.type) {
    case "import_picture":
      await recordImportRefused(db, job);
      return;
    case "audit_event":
      return;
  }
}

/**
 * The bookkeeping of a retry, where a job has some: the hourly job leaves an audit event to the
 * queue's retry until it is due. Only an optimisation (a duplicate send is one event to WorkOS), so
 * a failure here is logged, not raised.
 */
async function noteRetry({ db }: JobContext, job: JobMessage, delaySeconds: number): Promise<void> {
  if (job.type !== "audit_event") return;
  try {
    await postpone(db, job.id, new Date(Date.now() + delaySeconds * 1000));
  } catch (error) {
    console.warn(
      JSON.stringify({
        level: "warn",
        msg: "audit event retry not recorded",
        auditEventId: job.id,
        error: databaseErrorText(error),
      }),
    );
  }
}

/**
 * A dead letter: logged with its reason, and given up again (the platform moves a message here by
 * itself when the consumer failed on every delivery, before any bookkeeping). Then acknowledged.
 */
async function takeDeadLetter(context: JobContext, message: Message): Promise<void> {
  const letter = DeadLetter.safeParse(message.body);
  const bare = letter.success ? undefined : JobMessage.safeParse(message.body);
  const job = letter.success ? letter.data.message : bare?.success ? bare.data : undefined;
  const fields = letter.success
    ? { reason: letter.data.reason, kind: letter.data.kind, attempts: letter.data.attempts }
    : { reason: "the consumer failed on every delivery", kind: "exhausted" };
  logJob(fields.kind === "permanent" ? "warn" : "error", message, {
    msg: "dead letter",
    type: job?.type ?? "unknown",
    ...(job ? subjectOf(job) : {}),
    ...fields,
  });
  if (job) await giveUp(context, job);
  message.ack();
}

/** One log line per message handled. Never a picture URL (it can be a capability), a token or a secret. */
function logJob(level: "info" | "warn" | "error", message: Message, fields: Record<string, unknown>) {
  const line = JSON.stringify({
    level,
    msg: "job",
    messageId: message.id,
    attempts: message.attempts,
    ...fields,
  });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}
