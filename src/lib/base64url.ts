/** Bytes as base64url without padding (RFC 4648 §5): safe in a URL query and in a quoted header value. */
export function encodeBase64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** The bytes of a base64url text (padding optional); throws when it is not base64url. */
export function decodeBase64url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** A text's UTF-8 bytes as base64url. */
export const encodeBase64urlText = (text: string): string => encodeBase64url(new TextEncoder().encode(text));

/** The UTF-8 text a base64url value holds; throws when it is not base64url of UTF-8. */
export const decodeBase64urlText = (value: string): string =>
  new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(decodeBase64url(value));
