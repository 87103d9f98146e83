import { ApiError } from "../../lib/errors/api-error";
import type { AppRouteHandler } from "../../lib/types";
import { INITIALS_MEDIA_TYPE, renderInitials } from "../../pictures/initials";
import { initialsObjectKey, readInitialsImageName } from "../../pictures/initials-url";
import { type getInitialsImage, INITIALS_MAX_AGE_SECONDS } from "./avatars.routes";

const CACHE_CONTROL = `public, max-age=${INITIALS_MAX_AGE_SECONDS}, immutable`;

/**
 * An initials image: from R2 when it was drawn before, else drawn now and kept there, so each name is
 * drawn once (and browsers and CDNs keep it, `public` and `immutable`). Reads of profiles never draw:
 * they only sign the name.
 */
export const getInitialsImageHandler: AppRouteHandler<typeof getInitialsImage> = async (c) => {
  const { name } = c.req.valid("param");
  const image = await readInitialsImageName(c.var.config, name);
  if (!image) throw new ApiError("not_found");
  const key = initialsObjectKey(name);
  let object = await c.env.BUCKET.get(key);
  if (!object) {
    const bytes = await renderInitials(image.initials, image.paletteIndex, image.size);
    await c.env.BUCKET.put(key, bytes, {
      httpMetadata: { contentType: INITIALS_MEDIA_TYPE, cacheControl: CACHE_CONTROL },
    });
    object = await c.env.BUCKET.get(key);
    if (!object) throw new Error(`initials image ${key} not readable after it was stored`);
  }
  const headers = new Headers();
  object.writeHttpMetadata(headers);
  headers.set("ETag", object.httpEtag);
  // Whoever embeds it: an <img> on a page of another origin, with or without COEP.
  headers.set("Cross-Origin-Resource-Policy", "cross-origin");
  const tags = c.req.header("if-none-match");
  if (tags?.split(",").some((tag) => tag.trim().replace(/^W\//, "") === object.httpEtag)) {
    await object.body.cancel();
    return c.body(null, 304, Object.fromEntries(headers));
  }
  headers.set("Content-Length", String(object.size));
  return c.body(object.body, 200, Object.fromEntries(headers));
};
