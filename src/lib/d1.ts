import { ApiError, retryAfter } from "./errors/api-error";

/**
 * Per-request view of D1: counts round trips (for the request log, `Server-Timing` and the
 * benchmark) and retries transient failures. Every statement the service issues is idempotent
 * (conditional updates, `ON CONFLICT` inserts, event-id guards), so a retry after a lost
 * connection cannot apply a change twice.
 */
export class D1Tracker {
  roundTrips = 0;
  durationMs = 0;

  async run<T>(operation: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const started = Date.now();
      this.roundTrips++;
      try {
        return await operation();
      } catch (error) {
        // D1's own words, not a value it may quote: a value reading "reset" is no network fault.
        const message = databaseErrorText(error);
        if (OVERLOADED.test(message)) throw databaseUnavailable(error, 5);
        if (!TRANSIENT.test(message)) throw error;
        if (attempt >= MAX_ATTEMPTS) throw databaseUnavailable(error, 2);
        await sleep(backoffMs(attempt));
      } finally {
        this.durationMs += Date.now() - started;
      }
    }
  }
}

export const MAX_ATTEMPTS = 3;
/** @see https://developers.cloudflare.com/d1/observability/debug-d1/#error-list */
const TRANSIENT = /network connection lost|reset|transient/i;
const OVERLOADED = /overloaded|too many requests|timed? ?out|timeout/i;

/** Exponential backoff with full jitter: 0..25 ms, then 0..50 ms. */
const backoffMs = (attempt: number) => Math.random() * 25 * 2 ** (attempt - 1);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * D1's own words for a failed statement, safe to log. SQLite's messages name tables, columns and
 * constraints, never values; D1's type error is the exception, quoting the value it refused, so
 * that part is cut.
 */
export function databaseErrorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/ for value '[\s\S]*$/, " for value (not logged)").slice(0, 500);
}

function databaseUnavailable(cause: unknown, retryAfterSeconds: number) {
  console.error(JSON.stringify({ level: "error", msg: "d1 unavailable", cause: databaseErrorText(cause) }));
  return new ApiError(
    "unavailable",
    "The database is unavailable right now; try again shortly.",
    retryAfter(retryAfterSeconds),
  );
}

class TrackedStatement {
  constructor(
    readonly statement: D1PreparedStatement,
    private readonly tracker: D1Tracker,
  ) {}

  bind(...values: unknown[]) {
    return new TrackedStatement(this.statement.bind(...values), this.tracker);
  }
  first(column?: string) {
    return this.tracker.run(() =>
      column === undefined ? this.statement.first() : this.statement.first(column),
    );
  }
  run() {
    return this.tracker.run(() => this.statement.run());
  }
  all() {
    return this.tracker.run(() => this.statement.all());
  }
  raw(options?: { columnNames?: boolean }) {
    return this.tracker.run(() => this.statement.raw(options as { columnNames: true }));
  }
}

/** Wrap `db` so every statement and batch goes through `tracker`. */
export function trackD1(db: D1Database, tracker: D1Tracker): D1Database {
  const tracked = {
    prepare: (query: string) => new TrackedStatement(db.prepare(query), tracker),
    batch: (statements: TrackedStatement[]) =>
      tracker.run(() => db.batch(statements.map((s) => s.statement))),
    exec: (query: string) => tracker.run(() => db.exec(query)),
    dump: () => db.dump(),
    withSession: (constraint?: string) => db.withSession(constraint),
  };
  return tracked as unknown as D1Database;
}
