/**
 * R2 object keys, built from upload UUIDs only (ASCII, nothing a client chose). Profiles resolve a
 * custom photo's thumbnail from the upload id alone, without reading the upload row, so the
 * thumbnail must live at exactly `thumbKeyFor(id)`.
 */
export const originalKeyFor = (uploadId: string) => `uploads/${uploadId}/original`;
export const thumbKeyFor = (uploadId: string) => `uploads/${uploadId}/thumb-256.webp`;
