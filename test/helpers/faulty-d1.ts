import { type CountingD1, countingD1 } from "./counting-d1";

export interface Fault {
  /** Which round trips fail: matched against their SQL. */
  sql: RegExp;
  /** The error message D1 would give, e.g. "D1_ERROR: Network connection lost." */
  message: string;
  /** How many matching round trips fail; later ones succeed. */
  times: number;
  /** `after`: the statement really runs, then the error is thrown (a reply lost after commit). */
  when?: "before" | "after";
}

export interface FaultyD1 {
  db: CountingD1;
  /** Round trips matching each fault, in the order the faults were given. */
  attempts: number[];
}

/**
 * The real local D1 binding, failing some round trips the way D1 does: for tests of the service's
 * retries and 503s. Everything else passes through.
 */
export function faultyD1(real: D1Database, faults: Fault[]): FaultyD1 {
  const attempts = faults.map(() => 0);
  const remaining = faults.map((fault) => fault.times);
  const inject = (when: "before" | "after") => (sql: string) => {
    const index = faults.findIndex((fault) => fault.sql.test(sql));
    const fault = faults[index];
    if (!fault) return;
    if (when === "before") attempts[index] = (attempts[index] ?? 0) + 1;
    if ((fault.when ?? "before") !== when || (remaining[index] ?? 0) <= 0) return;
    remaining[index] = (remaining[index] ?? 0) - 1;
    throw new Error(fault.message);
  };
  return { db: countingD1(real, inject("before"), inject("after")), attempts };
}
