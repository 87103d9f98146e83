import { createRoute, z } from "@hono/zod-openapi";
import { errorResponses } from "../../lib/errors/openapi";
import { THUMB_SIZES } from "../../lib/object-keys";
import { INITIALS_MEDIA_TYPE } from "../../pictures/initials";

/** A year: an initials image's name is its content, so what is stored under it never changes. */
export const INITIALS_MAX_AGE_SECONDS = 365 * 24 * 60 * 60;

export const InitialsImageParams = z.object({
  name: z
    .string()
    .max(512)
    .openapi({
      param: { name: "name", in: "path" },
      description: "The image's signed name, as an `avatarUrl` gave it; opaque.",
    }),
});

const imageHeaders = {
  ETag: { description: "The image's tag, for `If-None-Match`.", schema: { type: "string" as const } },
  "Cache-Control": {
    description: `\`public, max-age=${INITIALS_MAX_AGE_SECONDS}, immutable\`: the same for everyone, and never another image under this URL.`,
    schema: { type: "string" as const },
  },
};

export const getInitialsImage = createRoute({
  method: "get",
  path: "/avatars/initials/{name}",
  tags: ["Avatars"],
  summary: "An initials avatar",
  description:
    "The image an `avatarUrl` of source `initials` points at: a user's initials on a background colour, " +
    `exactly the size asked for (${THUMB_SIZES.join(", ")} px square), \`${INITIALS_MEDIA_TYPE}\`. No ` +
    "token: an `<img>` loads it as it is. The name is signed by the service and says everything the " +
    "image shows (the letters, the colour, the size), nothing else about the user; a name the service " +
    "did not sign is `404`. Drawn once per name, then kept.",
  request: { params: InitialsImageParams },
  responses: {
    200: {
      description: "The image",
      headers: imageHeaders,
      content: { [INITIALS_MEDIA_TYPE]: { schema: { type: "string", format: "binary" } } },
    },
    304: {
      description: "Not Modified: `If-None-Match` names the image's `ETag`; no body",
      headers: imageHeaders,
    },
    ...errorResponses(["not_found"]),
  },
});
