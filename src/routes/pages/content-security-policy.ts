import type { Config } from "../../lib/config";

type Directives = Record<string, string[]>;

/** What no page here needs: plugins, frames, <base>, form posts, being framed by another site. */
const lockedDown: Directives = {
  "default-src": ["'none'"],
  "base-uri": ["'none'"],
  "form-action": ["'none'"],
  "frame-ancestors": ["'none'"],
};

const serialize = (directives: Directives) =>
  Object.entries(directives)
    .map(([name, sources]) => [name, ...new Set(sources)].join(" "))
    .join("; ");

/**
 * The profile-photo page: its own scripts and styles only (no inline script); it talks to the API
 * (its own origin unless `PAGE_API_ORIGIN` names another) and PUTs the bytes to the bucket's S3
 * endpoint; it shows each person's `avatarUrl` (presigned thumbnails from that endpoint, initials
 * images from the API's origin, never an identity provider's) and the chosen file's preview (`blob:`).
 */
export function profilePagePolicy(config: Config): string {
  const storage = new URL(config.r2.endpoint).origin;
  const api = config.page.apiOrigin;
  return serialize({
    ...lockedDown,
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "blob:", storage, ...(api ? [api] : [])],
    "connect-src": ["'self'", ...(api ? [api] : []), storage],
  });
}

/**
 * The API reference: Swagger UI from this worker's own assets, reading `/openapi.json` and sending
 * "Try it out" requests to this origin. Its icons are `data:` SVGs, and React sets some styles inline.
 */
export const docsPagePolicy = serialize({
  ...lockedDown,
  "script-src": ["'self'"],
  "style-src": ["'self'", "'unsafe-inline'"],
  "img-src": ["'self'", "data:"],
  "connect-src": ["'self'"],
});
