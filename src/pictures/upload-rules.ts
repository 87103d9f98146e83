import type { UploadKind, UploadScope } from "../db/schema";

const MiB = 1024 * 1024;

export interface ScopeRule {
  /** Largest declared size accepted at creation, in bytes. */
  maxBytes: number;
  /** The content types the scope accepts, each with the one kind it must be declared as. */
  types: Readonly<Record<string, UploadKind>>;
}

const imageTypes = {
  "image/jpeg": "image",
  "image/png": "image",
  "image/webp": "image",
  "image/gif": "image",
} as const satisfies Record<string, UploadKind>;

/** The media types a picture may be: what the profile-picture scope takes. */
export const IMAGE_TYPES = Object.keys(imageTypes);

/** The largest profile picture, in bytes: uploaded, sent in one call, or imported. */
export const MAX_PROFILE_PICTURE_BYTES = 10 * MiB;

/**
 * Uploads one user may have `pending` at a time, whatever the scope: enough for a page that starts
 * several uploads at once, few enough that abandoned ones (each up to its scope's size, parked
 * until the cleanup deletes it a day later) cannot pile up.
 */
export const MAX_PENDING_UPLOADS_PER_USER = 20;

/** What each scope accepts. `complete` then proves the bytes are what was declared. */
export const scopeRules: Readonly<Record<UploadScope, ScopeRule>> = {
  profile_picture: { maxBytes: MAX_PROFILE_PICTURE_BYTES, types: imageTypes },
  attachment: {
    maxBytes: 25 * MiB,
    types: { ...imageTypes, "application/pdf": "document", "text/plain": "document" },
  },
};

/**
 * The kind a scope accepts `contentType` as, or undefined when it does not accept it. Only the
 * rule's own entries count: `constructor` or `__proto__` must not find `Object.prototype`'s.
 */
export function kindFor(rule: ScopeRule, contentType: string): UploadKind | undefined {
  return Object.hasOwn(rule.types, contentType) ? rule.types[contentType] : undefined;
}

/** The rules in words, for the API docs: generated from `scopeRules` so the two never drift. */
export function describeScopeRules(): string {
  return Object.entries(scopeRules)
    .map(([scope, rule]) => {
      const types = Object.entries(rule.types)
        .map(([type, kind]) => `\`${type}\` (kind \`${kind}\`)`)
        .join(", ");
      return `\`${scope}\`: ${types}; at most ${rule.maxBytes} bytes (${rule.maxBytes / MiB} MiB).`;
    })
    .join(" ");
}
