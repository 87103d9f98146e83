import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * How many cases the security checklist has: "Bad inputs and faults the service must survive",
 * SECURITY-CASES.md, kept beside the contract outside this repository (cases 1 to 52). Each case is
 * proven by the test that owns the behaviour, whose title names it (`case 12: …`, also through a
 * table row's name); this file checks that none is left unproven.
 */
const SECURITY_CASES = 52;

/**
 * Cases whose behaviour is not built yet, each with what it waits for: named by no test until it is,
 * and then taken off this list (a test below insists).
 */
const NOT_BUILT_YET = new Map<number, string>([]);

const TEST_DIR = path.resolve(import.meta.dirname, "..");

/** The workerd suite's test files: where the service's behaviour is proven. */
const testFiles = readdirSync(TEST_DIR).filter((name) => name.endsWith(".test.ts"));

/** Every `case N:` that opens a string in a test file: a test title, or the name of a table row. */
function namedCases(): Map<number, string[]> {
  const named = new Map<number, string[]>();
  for (const file of testFiles) {
    const source = readFileSync(path.join(TEST_DIR, file), "utf8");
    for (const match of source.matchAll(/["'`]case (\d+):/g)) {
      const number = Number(match[1]);
      named.set(number, [...(named.get(number) ?? []), file]);
    }
  }
  return named;
}

describe("the security checklist", () => {
  const named = namedCases();

  const built = Array.from({ length: SECURITY_CASES }, (_, i) => i + 1).filter((n) => !NOT_BUILT_YET.has(n));

  it.for(built)("case %i is named by a test", (number) => {
    expect(named.get(number), `no test title names "case ${number}:"`).toBeDefined();
  });

  it.for([...NOT_BUILT_YET])("case %i waits for %s, and no test names it yet", ([number]) => {
    expect(named.get(number), `case ${number} is proven now: take it off NOT_BUILT_YET`).toBeUndefined();
  });

  it("names no case the checklist does not have", () => {
    const unknown = [...named.keys()].filter((number) => number < 1 || number > SECURITY_CASES);
    expect(unknown).toEqual([]);
  });
});
