import { describe, expect, it } from "vitest";
import { BENCH_EXIT, judge, verdictCell } from "../../scripts/bench/verdict.mjs";

type Check = [string, string, boolean, string?];
const met: Check = ["D1 round trips, PATCH ≤ 2", "1.00", true];
const missed: Check = ["no errors (any phase)", "3", false];
const cpu: Check = [
  "PATCH CPU ≤ 2x GET /healthz CPU",
  "3.10x",
  false,
  "local D1 runs in the worker's process",
];

describe("the benchmark's verdict (scripts/bench/verdict.mjs)", () => {
  it.each([
    ["every target met", BENCH_EXIT.ok, [met], []],
    ["a gating target missed", BENCH_EXIT.targetFailed, [met, missed], [missed]],
    ["only a non-gating target missed", BENCH_EXIT.ok, [met, cpu], []],
    ["a gating and a non-gating target missed", BENCH_EXIT.targetFailed, [missed, cpu], [missed]],
  ] as const)("%s: exit code %i", (_, exitCode, checks, failed) => {
    const verdict = judge([...checks] as Check[]);
    expect(verdict.exitCode).toBe(exitCode);
    expect(verdict.failed).toEqual(failed);
  });

  it("reports a non-gating target with its reason, met or not", () => {
    expect(judge([met, cpu]).notGating).toEqual([cpu]);
    expect(verdictCell(cpu)).toBe("not met, not gating locally");
    expect(verdictCell([cpu[0], "1.90x", true, cpu[3]])).toBe("met, not gating locally");
    expect(verdictCell(met)).toBe("PASS");
    expect(verdictCell(missed)).toBe("**FAIL**");
  });
});
