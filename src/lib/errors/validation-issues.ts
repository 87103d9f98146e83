import type { z } from "zod";

/** One item of a FastAPI-style validation error. */
export interface ValidationIssue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

/** Map zod issues to FastAPI items, with our own messages so no validator internals leak. */
export function toValidationIssues(
  error: z.ZodError,
  location: "body" | "path" | "query" | "header",
  input: unknown,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const issue of error.issues) {
    const loc = [location, ...issue.path.map((p) => (typeof p === "number" ? p : String(p)))];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        issues.push({ loc: [...loc, key], msg: "Extra inputs are not permitted", type: "extra_forbidden" });
      }
    } else if (issue.code === "invalid_type" && valueAt(input, issue.path) === undefined) {
      issues.push({ loc, msg: "Field required", type: "missing" });
    } else if (issue.code === "invalid_format" && issue.format === "uuid") {
      issues.push({ loc, msg: "Input should be a valid UUID", type: "uuid_parsing" });
    } else if (issue.code === "invalid_type") {
      issues.push({ loc, msg: `Input should be ${article(issue.expected)}`, type: `${issue.expected}_type` });
    } else {
      issues.push({ loc, msg: issue.message, type: "value_error" });
    }
  }
  return issues;
}

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function article(expected: string): string {
  return /^[aeiou]/.test(expected) ? `an ${expected}` : `a ${expected}`;
}
