import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  type QueueResult,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import type { User } from "../../src/db/schema";
import worker from "../../src/index";
import type { JobMessage } from "../../src/jobs/messages";

export const JOBS_QUEUE = "profile-picture-jobs";
export const DEAD_LETTER_QUEUE = "profile-picture-jobs-dead-letters";

/** The message a request or the hourly job sends to import `user`'s WorkOS picture. */
export const importMessage = (user: Pick<User, "workosUserId">, url: string): JobMessage => ({
  type: "import_picture",
  workosUserId: user.workosUserId,
  url,
});

let sequence = 0;

/**
 * Hand `bodies` to the worker's queue consumer as one batch of `queue`, each on its `attempts`-th
 * delivery (the Vitest integration's `createMessageBatch`), and answer what it acknowledged and
 * retried (`getQueueResult`), with the delay each retry asked for (`retryMessages` leaves it out:
 * each message's `retry` is watched, and still does what it does). Nothing goes through a real queue.
 */
export async function consume(
  bodies: unknown[],
  options: { queue?: string; attempts?: number; env?: Partial<Record<keyof Env, unknown>> } = {},
): Promise<QueueResult & { ids: string[]; retries: { msgId: string; delaySeconds: number | undefined }[] }> {
  const messages = bodies.map((body) => ({
    id: `message-${++sequence}`,
    timestamp: new Date(),
    attempts: options.attempts ?? 1,
    body,
  }));
  const batch = createMessageBatch(options.queue ?? JOBS_QUEUE, messages);
  const retries = batch.messages.map((message) => vi.spyOn(message, "retry"));
  const ctx = createExecutionContext();
  await worker.queue(batch, (options.env ? { ...env, ...options.env } : env) as Env);
  return {
    ...(await getQueueResult(batch, ctx)),
    ids: messages.map((message) => message.id),
    retries: retries.flatMap((spy, i) =>
      spy.mock.calls.map(([retry]) => ({
        msgId: messages[i]?.id as string,
        delaySeconds: retry?.delaySeconds,
      })),
    ),
  };
}

/** Wait until `check` answers something truthy (the real queue delivers within about a second here). */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 10_000) {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`not so after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every log line the worker writes (JSON), whatever its level, while the test runs. */
export function captureLogs(): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [];
  for (const level of ["log", "warn", "error"] as const) {
    vi.spyOn(console, level).mockImplementation((line: unknown) => {
      try {
        lines.push(JSON.parse(String(line)) as Record<string, unknown>);
      } catch {}
    });
  }
  return lines;
}

/**
 * A queue binding that refuses every send, as Queues does when it is down: the request's change
 * must stand all the same, and the hourly job enqueue it later.
 */
export const queueDown = {
  send: async () => {
    throw new Error("Queue send failed: service unavailable");
  },
  sendBatch: async () => {
    throw new Error("Queue send failed: service unavailable");
  },
} as unknown as Queue;
