/**
 * The benchmark's verdict: which targets gate, and the exit code that lets a run gate a change.
 * A check is `[target, measured, met, notGatingBecause?]`; one with a reason is reported but does not
 * gate (the local runtime cannot judge it), and the reason is printed with it.
 */
export const BENCH_EXIT = { ok: 0, targetFailed: 1, couldNotMeasure: 3 };

/** @typedef {[target: string, measured: string, met: boolean, notGatingBecause?: string]} Check */

/** @param {Check[]} checks */
export function judge(checks) {
  const failed = checks.filter(([, , met, notGatingBecause]) => !met && !notGatingBecause);
  return {
    failed,
    notGating: checks.filter(([, , , notGatingBecause]) => notGatingBecause),
    exitCode: failed.length ? BENCH_EXIT.targetFailed : BENCH_EXIT.ok,
  };
}

/**
 * The verdict column of the targets table.
 * @param {Check} check
 */
export function verdictCell([, , met, notGatingBecause]) {
  if (notGatingBecause) return `${met ? "met" : "not met"}, not gating locally`;
  return met ? "PASS" : "**FAIL**";
}
