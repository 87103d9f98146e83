/**
 * The square WebP thumbnails `complete` stores of an image, in px a side: what a UI draws, from a
 * list of small avatars (64) to a profile header on a high-density screen (512).
 */
export const THUMB_SIZES = [64, 128, 256, 512] as const;
export type ThumbSize = (typeof THUMB_SIZES)[number];

/**
 * The one size uploads completed before there were sizes have, so the one every ready image has:
 * what a profile shows unless asked for another, and an upload's `thumbUrl`.
 */
export const DEFAULT_THUMB_SIZE = 256 satisfies ThumbSize;

/**
 * R2 object keys, built from upload UUIDs only (ASCII, nothing a client chose). Profiles resolve a
 * custom photo's thumbnail from the upload id alone, without reading the upload row, so each
 * thumbnail must live at exactly `thumbKeyFor(id, size)`.
 */
export const originalKeyFor = (uploadId: string) => `uploads/${uploadId}/original`;
export const thumbKeyFor = (uploadId: string, size: ThumbSize = DEFAULT_THUMB_SIZE) =>
  `uploads/${uploadId}/thumb-${size}.webp`;
/** Every thumbnail key an upload may have: what a delete of its thumbnails names. */
export const thumbKeysFor = (uploadId: string) => THUMB_SIZES.map((size) => thumbKeyFor(uploadId, size));
