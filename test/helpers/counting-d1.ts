/**
 * A D1 binding that records every round trip to the database: each `first`/`all`/`run`/`raw` of
 * a prepared statement, each `batch` (one trip however many statements it holds) and each `exec`,
 * made on the binding or on a session it opened (`withSession`), which is how the service reaches
 * D1. Drizzle's D1 driver only uses `prepare(...).bind(...)` with those, and `batch`.
 *
 * `beforeRoundTrip` runs just before a trip goes out, with its SQL: a test can change the data
 * under the service at an exact moment (for example between a check and a write), or throw to
 * fail the trip. `afterRoundTrip` runs once the trip is back: throwing there loses the reply of a
 * statement that did run.
 */
export interface CountingD1 extends D1Database {
  /** The SQL of each round trip made so far, in order (a batch's statements joined by `;`). */
  readonly trips: string[];
  readonly roundTrips: number;
  /** Each statement sent with the values bound to it, those of a batch one by one. */
  readonly statements: BoundStatement[];
  /** What each session opened so far started from (a constraint, or a bookmark), in order. */
  readonly sessionStarts: string[];
  /** Round trips made on the binding itself rather than in a session. */
  readonly tripsOutsideSessions: number;
}

export interface BoundStatement {
  sql: string;
  params: unknown[];
}

type RoundTripHook = (sql: string) => void | Promise<void>;

/** What statements are prepared on and batched through: the binding, or one of its sessions. */
type StatementTarget = Pick<D1Database, "prepare" | "batch">;

const boundStatements = new WeakMap<D1PreparedStatement, BoundStatement>();

export function countingD1(
  inner: D1Database,
  beforeRoundTrip?: RoundTripHook,
  afterRoundTrip?: RoundTripHook,
): CountingD1 {
  const trips: string[] = [];
  const statements: BoundStatement[] = [];
  const sessionStarts: string[] = [];
  let tripsOutsideSessions = 0;
  const trip = async <T>(sql: string, run: () => Promise<T>, params?: unknown[]): Promise<T> => {
    trips.push(sql);
    if (params) statements.push({ sql, params });
    await beforeRoundTrip?.(sql);
    const result = await run();
    await afterRoundTrip?.(sql);
    return result;
  };

  const unwrapped = new WeakMap<D1PreparedStatement, D1PreparedStatement>();
  /** `target`'s `prepare` and `batch`, every round trip they make recorded. */
  const counted = (target: StatementTarget, inSession: boolean): StatementTarget => {
    const tripHere = <T>(sql: string, run: () => Promise<T>, params?: unknown[]) => {
      if (!inSession) tripsOutsideSessions++;
      return trip(sql, run, params);
    };
    const wrap = (
      statement: D1PreparedStatement,
      sql: string,
      params: unknown[] = [],
    ): D1PreparedStatement => {
      const wrapped: D1PreparedStatement = {
        bind: (...values: unknown[]) => wrap(statement.bind(...values), sql, values),
        first: ((column?: string) =>
          tripHere(
            sql,
            () => (column === undefined ? statement.first() : statement.first(column)),
            params,
          )) as never,
        all: (() => tripHere(sql, () => statement.all(), params)) as never,
        run: (() => tripHere(sql, () => statement.run(), params)) as never,
        raw: ((options?: { columnNames?: boolean }) =>
          tripHere(sql, () => statement.raw(options as { columnNames: true }), params)) as never,
      };
      boundStatements.set(wrapped, { sql, params });
      unwrapped.set(wrapped, statement);
      return wrapped;
    };
    return {
      prepare: (sql: string) => wrap(target.prepare(sql), sql),
      batch: ((batched: D1PreparedStatement[]) => {
        const bound = batched.map((s) => boundStatements.get(s) ?? { sql: "?", params: [] });
        statements.push(...bound);
        return tripHere(bound.map((s) => s.sql).join("; "), () =>
          target.batch(batched.map((s) => unwrapped.get(s) ?? s)),
        );
      }) as D1Database["batch"],
    };
  };
  return {
    trips,
    statements,
    sessionStarts,
    get roundTrips() {
      return trips.length;
    },
    get tripsOutsideSessions() {
      return tripsOutsideSessions;
    },
    ...counted(inner, false),
    exec: (query: string) => {
      tripsOutsideSessions++;
      return trip(query, () => inner.exec(query));
    },
    dump: () => inner.dump(),
    withSession: (start?: string) => {
      sessionStarts.push(start ?? "first-unconstrained");
      const session = inner.withSession(start);
      return { ...counted(session, true), getBookmark: () => session.getBookmark() };
    },
  } as CountingD1;
}

/**
 * `inner`, with `change` run just before each round trip whose SQL matches `sql`: the data
 * changes under that statement, after every check the service made before it.
 */
export function changedBefore(inner: D1Database, sql: RegExp, change: () => Promise<unknown>): CountingD1 {
  return countingD1(inner, async (trip) => {
    if (sql.test(trip)) await change();
  });
}
