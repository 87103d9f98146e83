/** How many leading bytes `complete` reads to check the declared type (one small ranged read). */
export const SNIFF_LENGTH = 512;

const ascii = (text: string) => Array.from(text, (char) => char.charCodeAt(0));

/** Leading-byte signatures; `null` matches any byte. */
const signatures: Readonly<Record<string, (number | null)[][]>> = {
  "image/jpeg": [[0xff, 0xd8, 0xff]],
  "image/png": [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  "image/gif": [ascii("GIF87a"), ascii("GIF89a")],
  "image/webp": [[...ascii("RIFF"), null, null, null, null, ...ascii("WEBP")]],
  "application/pdf": [ascii("%PDF-")],
};

function startsWith(bytes: Uint8Array, signature: (number | null)[]): boolean {
  return signature.length <= bytes.length && signature.every((byte, i) => byte === null || bytes[i] === byte);
}

/** The type whose signature the bytes start with, if any. */
export function sniffType(head: Uint8Array): string | undefined {
  for (const [type, options] of Object.entries(signatures)) {
    if (options.some((signature) => startsWith(head, signature))) return type;
  }
  return undefined;
}

/**
 * Whether the first bytes of an object fit its declared type. Plain text has no signature: it
 * must be UTF-8 without NUL bytes and must not start like one of the binary types.
 */
export function matchesDeclaredType(contentType: string, head: Uint8Array): boolean {
  if (contentType !== "text/plain") return sniffType(head) === contentType;
  if (sniffType(head) !== undefined || head.includes(0)) return false;
  try {
    // `stream: true`: the read may end inside a multi-byte character; that is not an error.
    new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(head, { stream: true });
    return true;
  } catch {
    return false;
  }
}
