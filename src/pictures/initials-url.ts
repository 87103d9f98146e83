import { decodeBase64url, decodeBase64urlText, encodeBase64url, encodeBase64urlText } from "../lib/base64url";
import type { Config } from "../lib/config";
import { THUMB_SIZES, type ThumbSize } from "../lib/object-keys";
import { INITIALS_MEDIA_TYPE, INITIALS_RENDERER_VERSION, isDrawableInitials, PALETTE } from "./initials";

/** What an initials image shows: the letters, the palette entry, the size. Nothing else of the user. */
export interface InitialsImage {
  initials: string;
  paletteIndex: number;
  size: ThumbSize;
}

/** Where the worker serves initials images: `{origin}/avatars/initials/{name}`. */
export const INITIALS_PATH_PREFIX = "/avatars/initials/";
const EXTENSION = `.${INITIALS_MEDIA_TYPE.replace(/^image\//, "")}`;

/**
 * The HMAC key that signs initials URLs, derived from the R2 secret (HKDF, its own label), so no new
 * secret is needed and a rotated R2 secret changes every URL as it changes every presigned one. Kept
 * per isolate, by secret, as importing and deriving a key costs more than signing with it.
 */
const signingKeys = new Map<string, Promise<CryptoKey>>();

function signingKey(secret: string): Promise<CryptoKey> {
  let key = signingKeys.get(secret);
  if (!key) {
    const encoder = new TextEncoder();
    key = crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"]).then((base) =>
      crypto.subtle.deriveKey(
        {
          name: "HKDF",
          hash: "SHA-256",
          salt: encoder.encode("profile-picture-api"),
          info: encoder.encode("initials avatar URLs"),
        },
        base,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign", "verify"],
      ),
    );
    signingKeys.set(secret, key);
  }
  return key;
}

/**
 * Names signed in this isolate with `namesSecret`, by image: a name is a pure function of the two,
 * and a read looks its name up before it builds the payload (a members page names up to 100 images).
 * A rotated secret starts the cache again; past `MAX_CACHED_NAMES`, the least recently used goes.
 */
const names = new Map<string, string>();
let namesSecret: string | undefined;
const MAX_CACHED_NAMES = 1000;

/**
 * The file name of an initials image: `{payload}.{mac}{extension}`, the payload the renderer's
 * version and the image (base64url of a JSON array), the MAC an HMAC-SHA256 of it. The same image
 * always gets the same name, so its URL stays the same while the initials do, and any change of
 * initials, colour, size or renderer makes another; only names the service signed are rendered.
 */
export async function initialsImageName(config: Config, image: InitialsImage): Promise<string> {
  const secret = config.r2.secretAccessKey;
  if (secret !== namesSecret) {
    names.clear();
    namesSecret = secret;
  }
  const cacheKey = `${image.size}:${image.paletteIndex}:${image.initials}`;
  const cached = names.get(cacheKey);
  if (cached !== undefined) {
    // Most recently used last: a Map keeps insertion order.
    names.delete(cacheKey);
    names.set(cacheKey, cached);
    return cached;
  }
  const payload = encodeBase64urlText(
    JSON.stringify([INITIALS_RENDERER_VERSION, image.paletteIndex, image.size, image.initials]),
  );
  const mac = await crypto.subtle.sign("HMAC", await signingKey(secret), new TextEncoder().encode(payload));
  const name = `${payload}.${encodeBase64url(new Uint8Array(mac))}${EXTENSION}`;
  if (names.size >= MAX_CACHED_NAMES) names.delete(names.keys().next().value as string);
  names.set(cacheKey, name);
  return name;
}

/** The absolute URL of an initials image, on the API's own origin. */
export async function initialsImageUrl(config: Config, apiOrigin: string, image: InitialsImage) {
  return `${apiOrigin}${INITIALS_PATH_PREFIX}${await initialsImageName(config, image)}`;
}

const NAME = /^([A-Za-z0-9_-]{1,400})\.([A-Za-z0-9_-]{43})(\.[a-z]+)$/;

/**
 * The image a name stands for, when the service signed it with the current secret and renderer and
 * it holds what the renderer can draw; undefined for anything else (a name made up, edited, or
 * signed for an older renderer), which is never rendered.
 */
export async function readInitialsImageName(
  config: Config,
  name: string,
): Promise<InitialsImage | undefined> {
  const match = NAME.exec(name);
  if (!match || match[3] !== EXTENSION) return undefined;
  const [, payload = "", mac = ""] = match;
  let macBytes: Uint8Array;
  try {
    macBytes = decodeBase64url(mac);
  } catch {
    return undefined;
  }
  const key = await signingKey(config.r2.secretAccessKey);
  if (!(await crypto.subtle.verify("HMAC", key, macBytes, new TextEncoder().encode(payload))))
    return undefined;
  let fields: unknown;
  try {
    fields = JSON.parse(decodeBase64urlText(payload));
  } catch {
    return undefined;
  }
  if (!Array.isArray(fields) || fields.length !== 4) return undefined;
  const [version, paletteIndex, size, initials] = fields as unknown[];
  if (
    version !== INITIALS_RENDERER_VERSION ||
    !Number.isInteger(paletteIndex) ||
    (paletteIndex as number) < 0 ||
    (paletteIndex as number) >= PALETTE.length ||
    !THUMB_SIZES.includes(size as ThumbSize) ||
    typeof initials !== "string" ||
    !isDrawableInitials(initials)
  ) {
    return undefined;
  }
  return { initials, paletteIndex: paletteIndex as number, size: size as ThumbSize };
}

/** Where a rendered initials image is kept in R2: its name, which is all it depends on. */
export const initialsObjectKey = (name: string) => `avatars/initials/${name}`;
