/**
 * A D1 binding that records every round trip to the database: each `first`/`all`/`run`/`raw` of
 * a prepared statement, each `batch` (one trip however many statements it holds) and each `exec`.
 * Drizzle's D1 driver only uses `prepare(...).bind(...)` with those, and `batch`.
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
}

export interface BoundStatement {
  sql: string;
  params: unknown[];
}

type RoundTripHook = (sql: string) => void | Promise<void>;

const boundStatements = new WeakMap<D1PreparedStatement, BoundStatement>();

export function countingD1(
  inner: D1Database,
  beforeRoundTrip?: RoundTripHook,
  afterRoundTrip?: RoundTripHook,
): CountingD1 {
  const trips: string[] = [];
  const statements: BoundStatement[] = [];
  const trip = async <T>(sql: string, run: () => Promise<T>, params?: unknown[]): Promise<T> => {
    trips.push(sql);
    if (params) statements.push({ sql, params });
    await beforeRoundTrip?.(sql);
    const result = await run();
    await afterRoundTrip?.(sql);
    return result;
  };

  const unwrapped = new WeakMap<D1PreparedStatement, D1PreparedStatement>();
  const wrap = (statement: D1PreparedStatement, sql: string, params: unknown[] = []): D1PreparedStatement => {
    const wrapped: D1PreparedStatement = {
      bind: (...values: unknown[]) => wrap(statement.bind(...values), sql, values),
      first: ((column?: string) =>
        trip(
          sql,
          () => (column === undefined ? statement.first() : statement.first(column)),
          params,
        )) as never,
      all: (() => trip(sql, () => statement.all(), params)) as never,
      run: (() => trip(sql, () => statement.run(), params)) as never,
      raw: ((options?: { columnNames?: boolean }) =>
        trip(sql, () => statement.raw(options as { columnNames: true }), params)) as never,
    };
    boundStatements.set(wrapped, { sql, params });
    unwrapped.set(wrapped, statement);
    return wrapped;
  };
  return {
    trips,
    statements,
    get roundTrips() {
      return trips.length;
    },
    prepare: (sql: string) => wrap(inner.prepare(sql), sql),
    batch: ((batched: D1PreparedStatement[]) => {
      const bound = batched.map((s) => boundStatements.get(s) ?? { sql: "?", params: [] });
      statements.push(...bound);
      return trip(bound.map((s) => s.sql).join("; "), () =>
        inner.batch(batched.map((s) => unwrapped.get(s) ?? s)),
      );
    }) as D1Database["batch"],
    exec: (query: string) => trip(query, () => inner.exec(query)),
    dump: () => inner.dump(),
    withSession: (constraint?: string) => inner.withSession(constraint),
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
