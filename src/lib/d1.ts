import { type SQL, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { ApiError, retryAfter } from "./errors/api-error";

/**
 * A bookmark as D1 hands them out: `00000085-0000024c-00004c6d-8e61117bf38d7adb71b934ebbf891683`,
 * three 8-digit and one 32-digit lower-case hex fields, locally as in production. Nothing else a
 * client sends is given to D1: the local D1 takes any string as a bookmark and keeps it as the
 * session's latest (a 10 KB header would come back as a 10 KB header), and a string D1 never
 * handed out can only be a mistake or a probe.
 * @see https://developers.cloudflare.com/d1/reference/time-travel/#bookmarks
 */
const BOOKMARK = /^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{32}$/;

export const isBookmark = (value: string | null | undefined): value is string =>
  typeof value === "string" && BOOKMARK.test(value);

/**
 * Bookmarks sort oldest to newest as strings (D1's own session keeps the greatest it has seen).
 * @see https://developers.cloudflare.com/d1/reference/time-travel/#bookmarks
 */
const newer = (a: string | null, b: string | null) => (a === null ? b : b === null || a >= b ? a : b);

/**
 * Where a session's first statement goes: to the primary, to any instance, or to one at least as
 * new as a bookmark. Later statements go to any instance at least as new as the session has seen.
 * @see https://developers.cloudflare.com/d1/worker-api/d1-database/#withsession
 */
export type SessionStart = "first-primary" | "first-unconstrained" | D1SessionBookmark;

/**
 * One request's (or one cron run's) way into D1: every statement runs in one D1 session, so it can
 * be served by the nearest read replica while the session stays sequentially consistent (each
 * statement sees at least what the previous ones saw, the session's own writes included). It also
 * counts round trips (for the request log, `Server-Timing` and the benchmark) and retries what is
 * safe to retry: every statement the service issues is idempotent (conditional updates,
 * `ON CONFLICT` inserts, event-id guards), so a retry after a lost connection cannot apply a
 * change twice.
 *
 * The session opens at the first statement, so a route can still say where it starts until then
 * (`startAtPrimary`). A statement is prepared afresh in the current session for every attempt: a
 * fault about the bookmark moves the session to the primary, and the retry runs there.
 */
export class D1Session {
  roundTrips = 0;
  durationMs = 0;
  /**
   * Rows D1 read for the session's statements (`meta.rows_read`), when it counts them
   * (`countRowsRead`): what D1 bills, and what says whether a job's cost grows with its tables.
   */
  rowsRead = 0;
  /**
   * Whether every statement's `meta.rows_read` is counted. A `raw()` read then goes through `all()`,
   * since only that answers with `meta`, and its rows are rebuilt from the objects it gives: right
   * only for statements that name each column once (a join of two tables' `id` would lose one).
   * So only a session whose every statement does (the storage cleanup's) turns it on.
   */
  readonly countsRowsRead: boolean;
  readonly #binding: D1Database;
  #start: SessionStart;
  #session: D1DatabaseSession | undefined;
  /** The client's bookmark, until D1 refuses it; known even when the session starts at the primary. */
  #seen: string | null;

  constructor(binding: D1Database, start: SessionStart, options: { countRowsRead?: boolean } = {}) {
    this.#binding = binding;
    this.#start = start;
    this.countsRowsRead = options.countRowsRead ?? false;
    this.#seen = start === "first-primary" || start === "first-unconstrained" ? null : start;
  }

  /**
   * The session starts at the primary, whatever bookmark it was given: the primary is at least as
   * new as any. Only before the first statement; later it would be a bug in the route's order.
   */
  startAtPrimary(): void {
    if (this.#session) throw new Error("D1Session.startAtPrimary after the session's first statement");
    this.#start = "first-primary";
  }

  /** The newest bookmark known: what the session's statements returned, or the client's; null before either. */
  get bookmark(): string | null {
    return newer(this.#seen, this.#session?.getBookmark() ?? null);
  }

  /**
   * What Drizzle is given: it only calls `prepare` (then `bind` and `first`/`all`/`run`/`raw`)
   * and `batch`, so that is all this has; the rest of `D1Database` would bypass the session.
   */
  readonly client = {
    prepare: (query: string) => new SessionStatement(this, query),
    batch: (statements: SessionStatement[]) =>
      this.run(async (session) =>
        this.counted(await session.batch(statements.map((statement) => statement.in(session)))),
      ),
  } as unknown as D1Database;

  /** Adds what D1 says its statements read; answers `results` as they are. */
  counted<T extends D1Result | D1Result[]>(results: T): T {
    for (const result of Array.isArray(results) ? results : [results]) {
      this.rowsRead += result.meta?.rows_read ?? 0;
    }
    return results;
  }

  /** One round trip: `operation` in the session, retried (in the session of the moment) while that is safe. */
  async run<T>(operation: (session: D1DatabaseSession) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const started = Date.now();
      this.roundTrips++;
      try {
        this.#session ??= this.#binding.withSession(this.#start);
        return await operation(this.#session);
      } catch (error) {
        // D1's own words, not a value it may quote: a value reading "reset" is no network fault.
        const message = databaseErrorText(error);
        if (OVERLOADED.test(message) || RESET_FOR_ITS_OWN_COST.test(message))
          throw databaseUnavailable(error, 5);
        const aboutTheBookmark = BOOKMARK_FAULT.test(message);
        if (!aboutTheBookmark && !TRANSIENT.test(message)) throw error;
        if (attempt >= MAX_ATTEMPTS) throw databaseUnavailable(error, 2);
        if (aboutTheBookmark) this.#restartAtPrimary();
        await sleep(backoffMs(attempt));
      } finally {
        this.durationMs += Date.now() - started;
      }
    }
  }

  /**
   * A bookmark D1 would not serve (of another database, too old, not reached yet) is forgotten with
   * the session that held it, and the next attempt runs in a new session at the primary: it sends
   * no bookmark, and the primary is at least as new as any bookmark this database handed out.
   */
  #restartAtPrimary(): void {
    this.#seen = null;
    this.#start = "first-primary";
    this.#session = undefined;
  }
}

/** A statement of a `D1Session`: its SQL and values, put into the session of each attempt. */
class SessionStatement {
  constructor(
    private readonly owner: D1Session,
    private readonly query: string,
    private readonly values: unknown[] = [],
  ) {}

  bind(...values: unknown[]) {
    return new SessionStatement(this.owner, this.query, values);
  }
  in(session: D1DatabaseSession): D1PreparedStatement {
    return session.prepare(this.query).bind(...this.values);
  }
  first(column?: string) {
    return this.owner.run((session) =>
      column === undefined ? this.in(session).first() : this.in(session).first(column),
    );
  }
  run() {
    return this.owner.run(async (session) => this.owner.counted(await this.in(session).run()));
  }
  all() {
    return this.owner.run(async (session) => this.owner.counted(await this.in(session).all()));
  }
  raw(options?: { columnNames?: boolean }) {
    if (!this.owner.countsRowsRead) {
      return this.owner.run((session) => this.in(session).raw(options as { columnNames: true }));
    }
    return this.owner.run(async (session) => {
      const { results } = this.owner.counted(await this.in(session).all<Record<string, unknown>>());
      const rows = results.map((row) => Object.values(row));
      return options?.columnNames ? [Object.keys(results[0] ?? {}), ...rows] : rows;
    });
  }
}

/**
 * The most values D1 binds to one statement (local SQLite takes far more, so only a count catches a
 * statement past it): a list of any length is bound as one JSON value and read with `json_each`.
 * @see https://developers.cloudflare.com/d1/platform/limits/
 */
export const D1_MAX_BOUND_PARAMETERS = 100;

/** In a statement: `column` is one of `values`, bound as one JSON value (`D1_MAX_BOUND_PARAMETERS`). */
export const isOneOf = (column: SQLiteColumn, values: readonly string[]): SQL =>
  sql`${column} in (select value from json_each(${JSON.stringify(values)}))`;

export const MAX_ATTEMPTS = 3;
/** @see https://developers.cloudflare.com/d1/observability/debug-d1/#error-list */
const TRANSIENT = /network connection lost|reset|transient/i;
const OVERLOADED = /overloaded|too many requests|timed? ?out|timeout/i;
/**
 * D1 resets a database whose query exceeded its CPU time or memory limit, and says so ("D1 DB's
 * isolate exceeded its CPU time limit and was reset"): that reset is the query's own doing, so
 * trying it again costs the same and fails the same. Answered at once, never retried, though its
 * text says "reset" like a dropped connection's.
 * @see https://developers.cloudflare.com/d1/observability/debug-d1/#error-list
 */
const RESET_FOR_ITS_OWN_COST = /exceeded its (CPU time|memory) limit/i;
/**
 * D1's faults about a session's bookmark or constraint: the binding's own `D1_SESSION_ERROR`, and
 * any D1 error naming the bookmark (D1 documents no fixed text for these).
 */
const BOOKMARK_FAULT = /D1_SESSION_ERROR|bookmark/i;

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
