/**
 * The real local D1 binding, except that a read matching `sql`, sent on its own in a session (not
 * in a batch, which D1 serves at the primary when it writes), answers as a read replica that has not
 * received the latest writes yet: with no rows. Local D1 has one instance, so this is how a test
 * shows what a lagging replica would make the service do.
 */
export function laggingReplica(real: D1Database, sql: RegExp): D1Database {
  const stale = (statement: D1PreparedStatement): D1PreparedStatement =>
    ({
      bind: (...values: unknown[]) => stale(statement.bind(...values)),
      first: async () => null,
      all: async () => ({ results: [], success: true, meta: {} }),
      raw: async () => [],
      run: async () => ({ results: [], success: true, meta: {} }),
    }) as unknown as D1PreparedStatement;
  return new Proxy(real, {
    get(target, property) {
      if (property !== "withSession") {
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (start?: string) => {
        const session = target.withSession(start);
        return {
          prepare: (query: string) => {
            const statement = session.prepare(query);
            return sql.test(query) ? stale(statement) : statement;
          },
          batch: (statements: D1PreparedStatement[]) => session.batch(statements),
          getBookmark: () => session.getBookmark(),
        };
      };
    },
  });
}
