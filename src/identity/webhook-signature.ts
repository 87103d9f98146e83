/** How far a signature's timestamp may be from our clock, in either direction. */
export const SIGNATURE_TOLERANCE_MS = 180_000;

const encoder = new TextEncoder();

/** `t=<unix ms>, v1=<hex>` → its parts, or `undefined` when it is not exactly that shape. */
export function parseSignatureHeader(
  header: string,
): { timestamp: string; signature: Uint8Array } | undefined {
  const fields = new Map<string, string>();
  for (const part of header.split(",")) {
    const separator = part.indexOf("=");
    if (separator < 0) return undefined;
    const key = part.slice(0, separator).trim();
    if (fields.has(key)) return undefined;
    fields.set(key, part.slice(separator + 1).trim());
  }
  const timestamp = fields.get("t");
  const hex = fields.get("v1");
  if (fields.size !== 2 || !timestamp || !hex) return undefined;
  if (!/^\d{1,16}$/.test(timestamp) || !/^[0-9a-f]{64}$/i.test(hex)) return undefined;
  const signature = new Uint8Array(32);
  for (let i = 0; i < 32; i++) signature[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return { timestamp, signature };
}

/**
 * Check a `WorkOS-Signature` header against the raw body: HMAC-SHA256 with the webhook secret
 * over `${t}.${rawBody}`, `t` within the tolerance of now. `crypto.subtle.verify` compares in
 * constant time.
 * @see https://workos.com/docs/events/data-syncing/webhooks
 */
export async function verifyWorkOSSignature(
  header: string | undefined,
  rawBody: Uint8Array,
  secret: string,
  now = Date.now(),
): Promise<boolean> {
  const parsed = header ? parseSignatureHeader(header) : undefined;
  if (!parsed) return false;
  if (Math.abs(now - Number(parsed.timestamp)) > SIGNATURE_TOLERANCE_MS) return false;
  const prefix = encoder.encode(`${parsed.timestamp}.`);
  const signed = new Uint8Array(prefix.byteLength + rawBody.byteLength);
  signed.set(prefix);
  signed.set(rawBody, prefix.byteLength);
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  return crypto.subtle.verify("HMAC", key, parsed.signature, signed);
}
