export interface Fault {
  /** Which statements fail: matched against the SQL text. */
  sql: RegExp;
  /** The error message D1 would give, e.g. "D1_ERROR: Network connection lost." */
  message: string;
  /** How many matching executions fail; later ones succeed. */
  times: number;
  /** `after`: the statement really runs, then the error is thrown (a reply lost after commit). */
  when?: "before" | "after";
}

export interface FaultyD1 {
  db: D1Database;
  /** Executions of statements matching each fault, in order of the faults given. */
  attempts: number[];
}

/**
 * A real D1 binding that fails some statements the way D1 does: for fault-injection tests of the
 * service's retry and 503 behaviour. Everything else passes through to the real local database.
 */
export function faultyD1(real: D1Database, faults: Fault[]): FaultyD1 {
  const attempts = faults.map(() => 0);
  const remaining = faults.map((f) => f.times);

  async function execute<T>(sql: string, operation: () => Promise<T>): Promise<T> {
    const index = faults.findIndex((f) => f.sql.test(sql));
    if (index === -1) return operation();
    attempts[index] = (attempts[index] ?? 0) + 1;
    const fault = faults[index] as Fault;
    if ((remaining[index] ?? 0) <= 0) return operation();
    remaining[index] = (remaining[index] ?? 0) - 1;
    if (fault.when === "after") await operation();
    throw new Error(fault.message);
  }

  const wrap = (statement: D1PreparedStatement, sql: string): D1PreparedStatement =>
    ({
      sql,
      statement,
      bind: (...values: unknown[]) => wrap(statement.bind(...values), sql),
      first: (column?: string) => execute(sql, () => (column ? statement.first(column) : statement.first())),
      run: () => execute(sql, () => statement.run()),
      all: () => execute(sql, () => statement.all()),
      raw: (options?: { columnNames?: false }) => execute(sql, () => statement.raw(options)),
    }) as unknown as D1PreparedStatement;

  const db = {
    prepare: (sql: string) => wrap(real.prepare(sql), sql),
    batch: (statements: (D1PreparedStatement & { sql: string; statement: D1PreparedStatement })[]) =>
      execute(statements.map((s) => s.sql).join(";\n"), () => real.batch(statements.map((s) => s.statement))),
    exec: (query: string) => real.exec(query),
    dump: () => real.dump(),
    withSession: (constraint?: string) => real.withSession(constraint),
  } as unknown as D1Database;
  return { db, attempts };
}
