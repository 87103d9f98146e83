import { z } from "@hono/zod-openapi";

/**
 * An RFC 9562 UUID (version digit 1-8, variant 8-b) in the hyphenated 8-4-4-4-12 form, in either
 * case; normalised to lower case. Braced, URN and hyphen-less forms, and hex strings that are not
 * UUIDs, are refused (422). The nil and max UUIDs are well-formed and simply match nothing (404).
 * The same rule holds for every id on every route.
 */
export const Uuid = z
  .uuid()
  .overwrite((value) => value.toLowerCase())
  .openapi({ example: "3c90c3cc-0d44-4b50-8888-8dd25736052a" });

export const DateTime = z.string().openapi({ format: "date-time", example: "2023-11-07T05:31:56Z" });

/** Routes that take a WorkOS access token. */
export const bearerSecurity = [{ Bearer: [] }];
