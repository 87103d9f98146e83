import { z } from "@hono/zod-openapi";
import { uploadKinds, uploadScopes, uploadStates } from "../../db/schema";
import { DEFAULT_THUMB_SIZE } from "../../lib/object-keys";
import { DateTime, Uuid } from "../../lib/openapi-schemas";
import { kindFor, scopeRules } from "../../pictures/upload-rules";

// Control characters (C0, DEL, C1): never part of a file name, and trouble in logs and headers.
const CONTROL_CHARACTERS = /\p{Cc}/u;

export const CreateUploadBody = z
  .strictObject({
    kind: z.enum(uploadKinds),
    scope: z.enum(uploadScopes),
    contentType: z
      .string()
      .max(100)
      .overwrite((value) => value.trim().toLowerCase())
      .openapi({ description: "A media type the scope allows, without parameters.", example: "image/png" }),
    size: z.int().min(1).openapi({ description: "The exact size of the bytes in bytes.", example: 48213 }),
    filename: z
      .string()
      .min(1)
      .max(255)
      .refine((value) => !CONTROL_CHARACTERS.test(value), "Must not contain control characters")
      .nullable()
      .optional()
      .openapi({ description: "The client's file name, kept for display only; never part of a key." }),
  })
  .superRefine((body, ctx) => {
    const rule = scopeRules[body.scope];
    const kind = kindFor(rule, body.contentType);
    if (kind === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["contentType"],
        message: `Content type not allowed for scope ${body.scope}; allowed: ${Object.keys(rule.types).join(", ")}`,
      });
    } else if (kind !== body.kind) {
      ctx.addIssue({
        code: "custom",
        path: ["kind"],
        message: `Kind must be ${kind} for ${body.contentType}`,
      });
    }
    if (body.size > rule.maxBytes) {
      ctx.addIssue({
        code: "custom",
        path: ["size"],
        message: `Size must be at most ${rule.maxBytes} bytes for scope ${body.scope}`,
      });
    }
  })
  .openapi("CreateUploadRequest");

export const Upload = z
  .object({
    id: z.uuid(),
    kind: z.enum(uploadKinds),
    scope: z.enum(uploadScopes),
    state: z.enum(uploadStates),
    contentType: z.string(),
    size: z.int(),
    filename: z.string().nullable(),
    createdAt: DateTime,
    failureReason: z
      .string()
      .nullable()
      .openapi({ description: "Why the bytes were refused; null unless failed." }),
    thumbUrl: z
      .string()
      .nullable()
      .openapi({
        description: `Presigned GET URL of the ${DEFAULT_THUMB_SIZE} px square WebP thumbnail once a ready image (smaller when the image is: thumbnails are never enlarged); otherwise null.`,
      }),
  })
  .openapi("Upload");

export const CreateUploadResponse = z
  .object({
    upload: Upload,
    uploadUrl: z.string().openapi({ description: "Presigned URL to send the bytes to, before `expiresAt`." }),
    uploadMethod: z.literal("PUT"),
    uploadHeaders: z.record(z.string(), z.string()).openapi({
      description:
        "Exactly the headers to send with the bytes, all of them signed into `uploadUrl`: `Content-Type` " +
        "(the declared type), `Content-Length` (the declared size: send exactly that many bytes) and " +
        "`If-None-Match: *` (the URL writes once; a second PUT is `412 PreconditionFailed`). A missing " +
        "or different value fails the signature (`403`). HTTP clients set `Content-Length` from the body " +
        "themselves; a browser refuses a script-set one (it is a forbidden header name) and sends the " +
        "body's own length, so a page passes the other two and sends exactly `size` bytes.",
      example: { "Content-Type": "image/png", "Content-Length": "48213", "If-None-Match": "*" },
    }),
    expiresAt: DateTime,
  })
  .openapi("CreateUploadResponse");

export const UploadIdParams = z.object({
  upload_id: Uuid.openapi({ param: { name: "upload_id", in: "path" } }),
});
