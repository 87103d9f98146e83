import { z } from "@hono/zod-openapi";
import { type ErrorCode, errorCatalogue } from "./api-error";

const ValidationItem = z.object({
  loc: z.array(z.union([z.string(), z.number()])),
  msg: z.string(),
  type: z.string(),
});

export const ErrorResponse = z
  .object({
    detail: z.union([z.string(), z.array(ValidationItem)]),
    code: z.string(),
  })
  .openapi("ErrorResponse");

export const ValidationErrorResponse = z
  .object({ detail: z.array(ValidationItem), code: z.literal("validation_error") })
  .openapi("ValidationErrorResponse");

const catalogueOrder = Object.keys(errorCatalogue) as ErrorCode[];

/**
 * The error responses of a route that can answer with `codes` (and `internal_error`, which any
 * route can): one per status, naming each of its codes and when it happens, as the catalogue says.
 * Pass the codes of the route's middleware (`authenticateErrors`, `jsonBodyErrors`, ...) and its own.
 */
export function errorResponses(...groups: (readonly ErrorCode[])[]) {
  const declared = new Set<ErrorCode>([...groups.flat(), "internal_error"]);
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of catalogueOrder.filter((c) => declared.has(c))) {
    const { status } = errorCatalogue[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return Object.fromEntries(
    [...byStatus].map(([status, codes]) => [
      status,
      {
        description: codes.map((code) => `\`${code}\`: ${errorCatalogue[code].when}`).join("; "),
        content: {
          "application/json": {
            schema: codes.every((code) => code === "validation_error")
              ? ValidationErrorResponse
              : ErrorResponse,
          },
        },
      },
    ]),
  );
}
