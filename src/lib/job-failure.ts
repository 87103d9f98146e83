/**
 * Why a background job failed, as the queue's consumer needs to know it. `permanent`: trying again
 * cannot help (the other side refused what we sent, or what it has); otherwise it is worth another
 * try later (a 5xx, a 429, a timeout, a network error), after `retryAfterSeconds` when the other
 * side said so.
 */
export class JobFailure extends Error {
  constructor(
    readonly reason: string,
    readonly permanent: boolean,
    readonly retryAfterSeconds?: number,
  ) {
    super(reason);
    this.name = "JobFailure";
  }
}

/** Seconds from a `Retry-After` (delta-seconds or an HTTP date); undefined when there is none or it is not either. */
export function retryAfterSeconds(header: string | null, nowMs: number = Date.now()): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - nowMs) / 1000));
}
